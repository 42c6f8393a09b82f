package clickhouse

import (
	"context"
	"errors"
	"fmt"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	chcolumn "github.com/ClickHouse/clickhouse-go/v2/lib/column"
)

// ErrChecksumMismatch is returned (wrapped) by Migrate when a migration that
// was already applied no longer renders to the same statements: migrations
// must never be edited, and table names must not change once migrated.
var ErrChecksumMismatch = errors.New("applied migration changed")

// ErrInvalidRows is returned (wrapped in a permanent *Error) by InsertRows
// for rows that can never be loaded, such as a row without an issue id.
var ErrInvalidRows = errors.New("invalid rows")

// Error is a failed operation on ClickHouse. Permanent tells an error that
// will happen again with the same input (a value that does not convert, an
// unknown column or table, invalid rows) from one worth retrying (connection
// refused or lost, timeouts, an overloaded or unavailable server,
// authentication failures an operator can fix).
type Error struct {
	// Op is the operation: "open", "insert", "migrate", "optimize", "query".
	Op string
	// Table is the table concerned, if any.
	Table     string
	Permanent bool
	Err       error
}

// Error implements error.
func (e *Error) Error() string {
	kind := "retryable"
	if e.Permanent {
		kind = "permanent"
	}
	if e.Table != "" {
		return fmt.Sprintf("clickhouse %s %s (%s): %v", e.Op, e.Table, kind, e.Err)
	}
	return fmt.Sprintf("clickhouse %s (%s): %v", e.Op, kind, e.Err)
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// newError wraps err (nil stays nil) with its classification.
func newError(op, table string, err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	return &Error{Op: op, Table: table, Permanent: classifyPermanent(err), Err: err}
}

// IsPermanent reports whether err will happen again however often the same
// operation is retried. For an *Error in the chain it is that error's
// classification; other errors are classified the same way. Nil is not
// permanent.
func IsPermanent(err error) bool {
	if err == nil {
		return false
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Permanent
	}
	return classifyPermanent(err)
}

// schemaCodes are the permanent codes that say the table itself does not
// fit (a table, column or database missing), whatever the rows.
var schemaCodes = map[int32]bool{8: true, 10: true, 16: true, 20: true, 47: true, 60: true, 81: true}

// IsSchemaMismatch reports an error that every insert into the table would
// meet, whatever its rows: the database, a table or a column is missing.
func IsSchemaMismatch(err error) bool {
	var ex *ch.Exception
	return errors.As(err, &ex) && schemaCodes[ex.Code]
}

// permanentCodes are the server error codes caused by the data or the schema
// of an insert rather than by the server's state.
var permanentCodes = map[int32]string{
	6:   "CANNOT_PARSE_TEXT",
	8:   "THERE_IS_NO_COLUMN",
	10:  "NOT_FOUND_COLUMN_IN_BLOCK",
	16:  "NO_SUCH_COLUMN_IN_TABLE",
	20:  "NUMBER_OF_COLUMNS_DOESNT_MATCH",
	26:  "CANNOT_PARSE_QUOTED_STRING",
	27:  "CANNOT_PARSE_INPUT_ASSERTION_FAILED",
	36:  "BAD_ARGUMENTS",
	38:  "CANNOT_PARSE_DATE",
	41:  "CANNOT_PARSE_DATETIME",
	43:  "ILLEGAL_TYPE_OF_ARGUMENT",
	44:  "ILLEGAL_COLUMN",
	47:  "UNKNOWN_IDENTIFIER",
	50:  "UNKNOWN_TYPE",
	53:  "TYPE_MISMATCH",
	60:  "UNKNOWN_TABLE",
	62:  "SYNTAX_ERROR",
	69:  "ARGUMENT_OUT_OF_BOUND",
	70:  "CANNOT_CONVERT_TYPE",
	72:  "CANNOT_PARSE_NUMBER",
	81:  "UNKNOWN_DATABASE",
	117: "INCORRECT_DATA",
	131: "TOO_LARGE_STRING_SIZE",
	190: "SIZES_OF_ARRAYS_DOESNT_MATCH",
	349: "CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN",
}

// classifyPermanent decides for errors that are not an *Error. Anything not
// known to be permanent is retryable: the loader bounds redeliveries, so an
// unknown error costs some retries, never data.
func classifyPermanent(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if errors.Is(err, ErrInvalidRows) || errors.Is(err, ch.ErrBatchInvalid) {
		return true
	}
	var conv *chcolumn.ColumnConverterError
	if errors.As(err, &conv) {
		return true
	}
	var unsupported *chcolumn.UnsupportedColumnTypeError
	if errors.As(err, &unsupported) {
		return true
	}
	var colErr *chcolumn.Error
	if errors.As(err, &colErr) {
		return true
	}
	var ex *ch.Exception
	if errors.As(err, &ex) {
		_, ok := permanentCodes[ex.Code]
		return ok
	}
	return false
}
