// Package query reads the subset of Yandex Tracker's query language that
// the emulator supports (tracker-api.md §2.2 and §8 item 4), and the
// "filter" object of a search body, into a Plan: the terms every matching
// issue must satisfy, with names already resolved against a Catalog, and
// the sort order. It knows nothing of issues; the emulator evaluates plans.
//
//	query  := { term | "and" } [ sortby ]
//	term   := field ":" value { "," value }
//	value  := [ "!" ] [ ">" | ">=" | "<" | "<=" ] operand [ ".." operand ]
//	operand:= word | "quoted string" | func "()" [ ("+"|"-") N unit ]
//	sortby := ("Sort by" | "\"Sort by\"") ":" field [ASC|DESC] { "," field [ASC|DESC] }
//
// Terms are ANDed (with or without "and"); the values of one term are ORed,
// except negated ones ("Queue: !TRASH"), which all must hold. Field names,
// "and", functions and sort directions are case-insensitive.
//
// Every error the package returns is an *Error whose message is the text
// of the emulator's 400 answer.
package query

import (
	"fmt"
	"math"
	"time"
)

// Field is a field a term or a sort key names.
type Field uint8

// The fields of the language.
const (
	Queue Field = iota + 1
	Key         // also "Issue"
	Status
	Type
	Priority
	Resolution
	Assignee
	Author // also "CreatedBy"
	Tags
	Epic
	Parent
	Updated
	Created
	Resolved
)

// fieldNames maps the lower-case field names, spaces removed, to fields.
var fieldNames = map[string]Field{
	"queue": Queue, "key": Key, "issue": Key, "status": Status, "type": Type,
	"priority": Priority, "resolution": Resolution, "assignee": Assignee,
	"author": Author, "createdby": Author, "tags": Tags, "epic": Epic,
	"parent": Parent, "updated": Updated, "created": Created, "resolved": Resolved,
}

// isTime tells the fields that take datetimes and comparisons.
func (f Field) isTime() bool { return f == Updated || f == Created || f == Resolved }

// Op is what a condition tests.
type Op uint8

// The operations of a condition.
const (
	// Eq: the field is Index (Queue, Status, Type, Priority, Resolution,
	// Assignee, Author: a catalog index; Tags: the issue has tag Index) or
	// Key (Key: the current or an old key; Epic, Parent: the key of the
	// issue it names). An Index of -1 names nothing.
	Eq Op = iota + 1
	// Empty and NotEmpty test whether the field has a value.
	Empty
	NotEmpty
	// Range: the datetime is within [Lo, Hi] (unix ms, inclusive).
	Range
)

// Cond is one value of a term.
type Cond struct {
	Neg    bool // "!": the condition must not hold
	Op     Op
	Index  int
	Key    string // upper case
	Lo, Hi int64
}

// Term is one field's conditions: a match satisfies none of the negated
// ones and, when there are others, at least one of them.
type Term struct {
	Field Field
	Conds []Cond
}

// SortKey is one key of the result order: Updated, Created or Key.
type SortKey struct {
	Field Field
	Desc  bool
}

// Plan is a parsed search. Its zero value is not ready: use NewPlan.
type Plan struct {
	// Terms are ANDed.
	Terms []Term
	// UpdatedFrom and UpdatedTo bound the updatedAt (unix ms, inclusive)
	// of every match: the single-valued, not negated Updated terms.
	UpdatedFrom, UpdatedTo int64
	// Sort is the order "Sort by" or the search's order asked; nil if none.
	Sort []SortKey
}

// NewPlan returns a plan that matches every issue.
func NewPlan() *Plan {
	return &Plan{UpdatedFrom: math.MinInt64, UpdatedTo: math.MaxInt64}
}

// Entry is a directory entry (status, type, priority, resolution) that
// values may name by key or by its English or Russian name.
type Entry struct {
	Key   string
	Names [2]string
}

// User is a user that values may name by login or uid.
type User struct {
	Login string
	UID   string
}

// Catalog is what names and functions resolve against. Indexes in a Plan
// are indexes into its slices.
type Catalog struct {
	Now         time.Time      // now() and today()
	Zone        *time.Location // of datetimes without an offset
	Queues      []string       // keys, upper case
	Statuses    []Entry
	Types       []Entry
	Priorities  []Entry
	Resolutions []Entry
	Users       []User
	Me          int // the index of me()
	Tags        []string
}

// Error is a query the emulator answers with 400; Msg is the message.
type Error struct{ Msg string }

func (e *Error) Error() string { return e.Msg }

func errorf(format string, a ...any) error { return &Error{fmt.Sprintf(format, a...)} }
