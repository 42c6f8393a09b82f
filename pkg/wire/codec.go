package wire

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"unsafe"

	"github.com/klauspost/compress/zstd"
	"github.com/vmihailenco/msgpack/v5"
)

// EncodingHeader names the NATS header that says how a body is compressed
// ("zstd"); absent means plain msgpack.
const EncodingHeader = "Tracker-Encoding"

// compressAbove is the body size from which bodies are compressed: issues
// with long histories and texts then stay far below NATS's default 1 MiB
// payload limit (JSON compresses about tenfold).
const compressAbove = 16 << 10

// rowsCompressAbove is the same for rows messages, which only cross the
// rows stream (a work queue: deleted once loaded) on their way to the
// loader: compressing them cost the transformer and the loader 15 % of
// a replay's CPU to save bytes that are stored for seconds. Above it,
// they stay far below the 1 MiB payload limit too.
const rowsCompressAbove = 256 << 10

var (
	encoder, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1),
		// The default keeps an 8 MiB window buffer alive for the whole run.
		zstd.WithLowerEncoderMem(true))
	decoder, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(256<<20))
)

// The encoder makes its pool of block encoders, a channel, at first use:
// made here, at start, it belongs to no synctest bubble, so that tests on
// a fake clock (each in its own bubble) can all compress.
func init() { encoder.EncodeAll(nil, nil) }

// Marshal encodes v as msgpack, compressed with zstd when large. It
// returns the body and the value for EncodingHeader ("" when plain).
// Safe for concurrent use.
func Marshal(v any) ([]byte, string, error) {
	rows, ok := v.(*IssueRows)
	if !ok || rows == nil {
		return compress(msgpack.Marshal(v))
	}
	// The rows, the transformer's every message, are written without
	// reflection into a buffer kept for the next message: only the body
	// that leaves is allocated.
	a := plainPool.Get().(*appender)
	defer func() {
		if cap(a.b) <= maxPooled {
			a.b = a.b[:0]
			plainPool.Put(a)
		}
	}()
	a.b = slices.Grow(a.b, sizeHint(rows))
	if err := appendIssueRows(a, rows); err != nil {
		return nil, "", err
	}
	if len(a.b) < rowsCompressAbove {
		return bytes.Clone(a.b), "", nil
	}
	return encoder.EncodeAll(a.b, make([]byte, 0, len(a.b)/4)), "zstd", nil
}

// sizeHint is about the size of the encoded rows (a changelog row with
// its keys takes 250 to 400 bytes), so that the buffer grows once.
func sizeHint(r *IssueRows) int {
	return 2048 + len(r.Issue.Raw) + 320*(len(r.Changelog)+len(r.Intervals)+len(r.Metrics)+len(r.Comments)+len(r.Worklogs)+len(r.Links))
}

// maxPooled is the largest buffer plainPool keeps: one grown for a rare
// huge issue is left to the GC.
const maxPooled = 4 << 20

// plainPool keeps the buffers the rows are encoded in before compression.
var plainPool = sync.Pool{New: func() any { return &appender{b: make([]byte, 0, 64<<10)} }}

// compress returns b, compressed when large, with its EncodingHeader.
func compress(b []byte, err error) ([]byte, string, error) {
	if err != nil {
		return nil, "", err
	}
	if len(b) < compressAbove {
		return b, "", nil
	}
	return encoder.EncodeAll(b, make([]byte, 0, len(b)/4)), "zstd", nil
}

// Unmarshal decodes a body written by Marshal given its EncodingHeader.
// Malformed input is an error, never a panic nor a huge allocation
// (msgpack v5.4.1 panics on a nil where a time.Time is expected, and
// allocates what an array's header says; the fuzzer found both). Unmarshal does
// not keep body. An IssueSnapshot decoded into a zero value shares one
// copy of it between its JSON parts; the strings of IssueRows decoded into
// a zero value (but IssueID) are substrings of one copy of the
// uncompressed body, which stays in memory while any of them does. Safe
// for concurrent use.
func Unmarshal(body []byte, encoding string, v any) error {
	return unmarshal(body, encoding, v, false)
}

// UnmarshalView is Unmarshal for a body that nothing changes while v is
// in use (a NATS message's data, a fresh copy per message): the strings
// of IssueRows and IssueSnapshot decoded from an uncompressed body point
// into body itself, not into a copy. The loader holds each fetched
// message until it is settled; a copy of a fetch's bodies was a fifth of
// its heap.
func UnmarshalView(body []byte, encoding string, v any) error {
	return unmarshal(body, encoding, v, true)
}

// SnapshotReader decodes snapshots as UnmarshalView does, but
// decompresses them into a buffer it keeps for the next: a snapshot's
// JSON parts are valid only until the reader's next Decode. The
// transformer drops each snapshot once its rows are encoded; a fresh
// buffer per compressed snapshot, zeroed by the runtime, was an eighth of
// a replay's allocations. Not safe for concurrent use.
type SnapshotReader struct{ buf []byte }

// Decode decodes body, given its EncodingHeader, into snap, which must
// be zero. Nothing may change body while snap is in use.
func (r *SnapshotReader) Decode(body []byte, encoding string, snap *IssueSnapshot) error {
	plain, err := unmarshalInto(body, encoding, snap, true, r.buf[:0])
	if encoding != "" && cap(plain) <= maxReaderBuf && cap(plain) > cap(r.buf) {
		r.buf = plain
	}
	return err
}

// maxReaderBuf is the largest buffer a SnapshotReader keeps: a snapshot
// is 20-40 KB decompressed, a long history some hundreds; the rare larger
// one is not kept alive in each worker's reader.
const maxReaderBuf = 1 << 20

func unmarshal(body []byte, encoding string, v any, view bool) error {
	_, err := unmarshalInto(body, encoding, v, view, nil)
	return err
}

// unmarshalInto is unmarshal decompressing into dst's memory when it is
// large enough; it returns the decompressed body.
func unmarshalInto(body []byte, encoding string, v any, view bool, dst []byte) (plain []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed msgpack: %v", r)
		}
	}()
	plain = body
	switch encoding {
	case "":
	case "zstd":
		if plain, err = decoder.DecodeAll(body, dst); err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
	default:
		return nil, fmt.Errorf("unknown encoding %q", encoding)
	}
	if fastUnmarshal(plain, view || encoding != "", v) {
		return plain, nil
	}
	if !wellFormed(plain) {
		return plain, errMalformed
	}
	return plain, msgpack.Unmarshal(plain, v)
}

// errMalformed is the error of a body that is not one msgpack value
// (wellFormed).
var errMalformed = errors.New("malformed msgpack: not one whole value, or nested too deep")

// fastUnmarshal decodes plain, of which Unmarshal owns a copy when owned,
// without reflection into a zero *IssueSnapshot or *IssueRows, and
// reports whether it could; else v is left zero for the reflective
// decoder (which would merge the fields present into what v holds).
func fastUnmarshal(plain []byte, owned bool, v any) bool {
	switch v := v.(type) {
	case *IssueSnapshot:
		if v == nil || !isZero(v) {
			return false
		}
		if !owned {
			plain = bytes.Clone(plain) // the snapshot's JSON parts point into it
		}
		var fast IssueSnapshot
		if decodeSnapshot(plain, &fast) {
			*v = fast
			return true
		}
	case *IssueRows:
		if v == nil || !isZero(v) {
			return false
		}
		// The strings share one copy of the body: the decompressed body
		// itself, which is Unmarshal's and which nothing writes again.
		var text string
		if owned {
			text = unsafe.String(unsafe.SliceData(plain), len(plain))
		} else {
			text = string(plain)
		}
		if decodeRowsText(plain, text, v) {
			return true
		}
		*v = IssueRows{}
	}
	return false
}

// isZero reports whether *v is the zero value.
func isZero[T any](v *T) bool { return reflect.ValueOf(v).Elem().IsZero() }
