package wire

import (
	"bytes"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/vmihailenco/msgpack/v5"
)

// filler fills values with random content that reaches every form the
// encoders choose: string lengths at the fixstr/str8/str16 bounds, times
// of each timestamp width, nil and empty slices and maps, nil pointers.
type filler struct{ rnd *rand.Rand }

var fillTimes = []time.Time{{}, time.Unix(0, 0), time.Unix(1700000000, 0), time.Unix(1700000000, 123456789),
	time.Unix(-1, 5), time.Unix(1<<34, 0), time.Date(2025, 3, 30, 1, 30, 0, 0, time.UTC)}

var fillLens = []int{0, 1, 31, 32, 255, 256, 65535, 65536}

func (f filler) fill(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(strings.Repeat("я", fillLens[f.rnd.IntN(len(fillLens)-2)]/2) + strings.Repeat("x", f.rnd.IntN(3)))
	case reflect.Bool:
		v.SetBool(f.rnd.IntN(2) == 1)
	case reflect.Int, reflect.Int64:
		v.SetInt(int64(f.rnd.Uint64()) >> f.rnd.IntN(64))
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(f.rnd.Uint64() >> f.rnd.IntN(64))
	case reflect.Float64:
		v.SetFloat(f.rnd.NormFloat64())
	case reflect.Pointer:
		if f.rnd.IntN(2) == 1 {
			v.Set(reflect.New(v.Type().Elem()))
			f.fill(v.Elem())
		}
	default:
		f.fillComposite(v)
	}
}

func (f filler) fillComposite(v reflect.Value) {
	switch {
	case v.Type() == reflect.TypeFor[time.Time]():
		v.Set(reflect.ValueOf(fillTimes[f.rnd.IntN(len(fillTimes))]))
	case v.Kind() == reflect.Struct:
		for i := range v.NumField() {
			f.fill(v.Field(i))
		}
	case v.Kind() == reflect.Slice:
		if n := f.rnd.IntN(5) - 1; n >= 0 {
			v.Set(reflect.MakeSlice(v.Type(), n, n))
			for i := range n {
				f.fill(v.Index(i))
			}
		}
	case v.Kind() == reflect.Map:
		f.fillMap(v)
	}
}

func (f filler) fillMap(v reflect.Value) {
	n := f.rnd.IntN(4) - 1
	if n < 0 {
		return
	}
	v.Set(reflect.MakeMap(v.Type()))
	for i := range n {
		k := reflect.ValueOf(strings.Repeat("k", i+1))
		e := reflect.New(v.Type().Elem()).Elem()
		if e.Kind() == reflect.Interface {
			f.fillCustom(e) // one key: an order-free encoding
		} else {
			f.fill(e)
		}
		v.SetMapIndex(k, e)
		if e.Kind() == reflect.Interface {
			return
		}
	}
}

// fillCustom sets a custom field's value to one of the types the
// transformer puts there (IssueRow.Custom), or nil.
func (f filler) fillCustom(v reflect.Value) {
	var c any
	switch f.rnd.IntN(7) {
	case 0:
		c = int64(f.rnd.Uint64()) >> f.rnd.IntN(64)
	case 1:
		c = f.rnd.Uint64() >> f.rnd.IntN(64)
	case 2:
		c = f.rnd.NormFloat64()
	case 3:
		c = fillTimes[f.rnd.IntN(len(fillTimes))]
	case 4:
		var ss []string
		f.fill(reflect.ValueOf(&ss).Elem())
		c = ss
	case 5:
		c = nil
	default:
		c = "custom value"
	}
	if c != nil {
		v.Set(reflect.ValueOf(c))
	}
}

// TestRowsEncoding checks that Marshal writes rows byte for byte as the
// reflective encoder does.
func TestRowsEncoding(t *testing.T) {
	f := filler{rand.New(rand.NewPCG(1, 2))}
	for i := range 300 {
		var rows IssueRows
		f.fill(reflect.ValueOf(&rows).Elem())
		want, err := msgpack.Marshal(&rows)
		if err != nil {
			t.Fatal(err)
		}
		body, enc, err := Marshal(&rows)
		if err != nil {
			t.Fatal(err)
		}
		got := body
		if enc == "zstd" {
			if got, err = decoder.DecodeAll(body, nil); err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("rows %d: Marshal wrote %d bytes, msgpack %d; first difference at %d", i, len(got), len(want), firstDiff(got, want))
		}
		var back IssueRows
		if err := Unmarshal(body, enc, &back); err != nil {
			t.Fatalf("rows %d: %v", i, err)
		}
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// randomBody fills a T at random (the i-th value of f), marshals it and
// returns its body and encoding, and the body uncompressed, which must be
// one well-formed msgpack value.
func randomBody[T any](t *testing.T, f filler, i int) (body []byte, enc string, plain []byte) {
	t.Helper()
	var v T
	f.fill(reflect.ValueOf(&v).Elem())
	body, enc, err := Marshal(&v)
	if err != nil {
		t.Fatal(err)
	}
	plain = body
	if enc == "zstd" {
		if plain, err = decoder.DecodeAll(body, nil); err != nil {
			t.Fatal(err)
		}
	}
	if !wellFormed(plain) {
		t.Fatalf("%T %d: not well formed", v, i)
	}
	return body, enc, plain
}

// TestSnapshotDecoding checks that the fast decoder reads what Marshal
// writes, as the reflective decoder does.
func TestSnapshotDecoding(t *testing.T) {
	f := filler{rand.New(rand.NewPCG(3, 4))}
	for i := range 300 {
		body, enc, plain := randomBody[IssueSnapshot](t, f, i)
		var fast IssueSnapshot
		if !decodeSnapshot(plain, &fast) {
			t.Fatalf("snapshot %d: the fast path failed", i)
		}
		compareSnapshot(t, plain, &fast)
		var got IssueSnapshot
		if err := Unmarshal(body, enc, &got); err != nil || !reflect.DeepEqual(got, fast) {
			t.Fatalf("snapshot %d: Unmarshal differs (%v)", i, err)
		}
	}
}

// compareSnapshot fails unless the reflective decoder reads b as fast.
func compareSnapshot(t *testing.T, b []byte, fast *IssueSnapshot) {
	t.Helper()
	var slow IssueSnapshot
	err := func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = errPanic
			}
		}()
		return msgpack.Unmarshal(b, &slow)
	}()
	if err != nil {
		t.Fatalf("fast path read %x; the reflective decoder: %v", b, err)
	}
	if !reflect.DeepEqual(*fast, slow) {
		t.Fatalf("%x: fast path read\n%#v\nthe reflective decoder\n%#v", b, *fast, slow)
	}
}

var errPanic = bytes.ErrTooLarge // any error: the decoder panicked

// FuzzSnapshotFastPath checks that whatever the fast decoder accepts, the
// reflective decoder reads the same way.
func FuzzSnapshotFastPath(f *testing.F) {
	fl := filler{rand.New(rand.NewPCG(5, 6))}
	for range 20 {
		var s IssueSnapshot
		fl.fill(reflect.ValueOf(&s).Elem())
		if b, err := msgpack.Marshal(&s); err == nil && len(b) < 4096 {
			f.Add(b)
		}
	}
	small, _ := msgpack.Marshal(&IssueSnapshot{IssueID: "1", Changelog: [][]byte{[]byte("{}")}, Users: map[string]User{"1": {Email: "a@b"}},
		Statuses: map[string]Status{"open": {Key: "open"}}, Parts: PartLinks, UpdatedAt: time.Unix(1700000000, 5)})
	f.Add(small)
	f.Fuzz(func(t *testing.T, b []byte) {
		var fast IssueSnapshot
		if decodeSnapshot(b, &fast) {
			compareSnapshot(t, b, &fast)
		}
	})
}

// TestSnapshotReader checks that a SnapshotReader decodes as Unmarshal
// does, snapshot after snapshot, that a compressed body is decompressed
// into the buffer the reader already holds when it fits, and that the
// JSON parts of a plain body point into the body itself.
func TestSnapshotReader(t *testing.T) {
	f := filler{rand.New(rand.NewPCG(3, 4))}
	var r SnapshotReader
	reused, plainSeen := 0, 0
	for i := range 300 {
		var snap IssueSnapshot
		f.fill(reflect.ValueOf(&snap).Elem())
		if i%2 == 0 { // a long history: compressed, of a size that varies
			snap.Issue = []byte(`{"key":"` + strings.Repeat("a", i) + `"}`)
			snap.Changelog = append(snap.Changelog, bytes.Repeat([]byte(`{"id":"1"},`), compressAbove/8+i*16))
		}
		body, enc, err := Marshal(&snap)
		if err != nil {
			t.Fatal(err)
		}
		var want, got IssueSnapshot
		if err := Unmarshal(body, enc, &want); err != nil {
			t.Fatal(err)
		}
		plain, _ := decoder.DecodeAll(body, nil)
		held := r.buf[:cap(r.buf)]
		if err := r.Decode(body, enc, &got); err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("snapshot %d: the reader differs from Unmarshal (%v)", i, err)
		}
		if len(got.Issue) == 0 {
			continue
		}
		switch {
		case enc == "":
			plainSeen++
			if !within(got.Issue, body) {
				t.Fatalf("snapshot %d: the issue of a plain body is a copy, not a view of the body", i)
			}
		case len(held) >= len(plain):
			if !within(got.Issue, held) {
				t.Fatalf("snapshot %d: %d bytes decompressed outside the reader's %d-byte buffer", i, len(plain), len(held))
			}
			reused++
		}
	}
	if reused == 0 || plainSeen == 0 {
		t.Fatalf("%d decodes into a held buffer, %d plain bodies: the test proves nothing", reused, plainSeen)
	}
}

// within reports whether part lies inside the memory of whole.
func within(part, whole []byte) bool {
	if len(whole) == 0 {
		return false
	}
	p, start := uintptr(unsafe.Pointer(unsafe.SliceData(part))), uintptr(unsafe.Pointer(unsafe.SliceData(whole)))
	return p >= start && p+uintptr(len(part)) <= start+uintptr(len(whole))
}
