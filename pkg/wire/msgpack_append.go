package wire

import (
	"encoding/binary"
	"math"
	"time"
)

// appender writes msgpack exactly as vmihailenco/msgpack's Encoder does
// with its default options (the bytes Marshal always wrote): strings as
// fixstr/str8/16/32, integers in the fixed width of their Go type,
// float64 as a double, times as the timestamp extension (-1), structs as
// maps keyed by the field tags. It has no reflection, so encoding the rows
// costs what copying them does. codec_test.go checks it byte for byte
// against the Encoder.
type appender struct{ b []byte }

func (a *appender) u8(code, n byte) { a.b = append(a.b, code, n) }

func (a *appender) u16(code byte, n uint16) {
	a.b = binary.BigEndian.AppendUint16(append(a.b, code), n)
}

func (a *appender) u32(code byte, n uint32) {
	a.b = binary.BigEndian.AppendUint32(append(a.b, code), n)
}

func (a *appender) u64(code byte, n uint64) {
	a.b = binary.BigEndian.AppendUint64(append(a.b, code), n)
}

// length writes the header of a map, an array or a string of n items
// (fix is the code of the short form, which holds up to max-1 items; the
// wider forms follow it in msgpack's code table as c16, c32).
func (a *appender) length(n int, fix byte, max int, c16, c32 byte) {
	switch {
	case n < max:
		a.b = append(a.b, fix|byte(n))
	case n <= math.MaxUint16:
		a.u16(c16, uint16(n))
	default:
		a.u32(c32, uint32(n))
	}
}

func (a *appender) mapLen(n int)   { a.length(n, 0x80, 16, 0xde, 0xdf) }
func (a *appender) arrayLen(n int) { a.length(n, 0x90, 16, 0xdc, 0xdd) }
func (a *appender) null()          { a.b = append(a.b, 0xc0) }

func (a *appender) str(s string) {
	if n := len(s); n >= 32 && n < 256 {
		a.u8(0xd9, byte(n)) // str8
	} else {
		a.length(n, 0xa0, 32, 0xda, 0xdb)
	}
	a.b = append(a.b, s...)
}

func (a *appender) int64(n int64)     { a.u64(0xd3, uint64(n)) }
func (a *appender) uint64(n uint64)   { a.u64(0xcf, n) }
func (a *appender) uint32(n uint32)   { a.u32(0xce, n) }
func (a *appender) uint16(n uint16)   { a.u16(0xcd, n) }
func (a *appender) uint8(n uint8)     { a.u8(0xcc, n) }
func (a *appender) float64(f float64) { a.u64(0xcb, math.Float64bits(f)) }

func (a *appender) bool(v bool) {
	if v {
		a.b = append(a.b, 0xc3)
		return
	}
	a.b = append(a.b, 0xc2)
}

// time writes the timestamp extension in its shortest form (32, 64 or
// 96 bits), as Encoder.EncodeTime.
func (a *appender) time(t time.Time) {
	secs := uint64(t.Unix())
	if secs>>34 != 0 {
		a.b = append(a.b, 0xc7, 12, 0xff) // ext8, length 12, type -1
		a.b = binary.BigEndian.AppendUint32(a.b, uint32(t.Nanosecond()))
		a.b = binary.BigEndian.AppendUint64(a.b, secs)
		return
	}
	data := uint64(t.Nanosecond())<<34 | secs
	if data>>32 == 0 {
		a.b = append(a.b, 0xd6, 0xff) // fixext4
		a.b = binary.BigEndian.AppendUint32(a.b, uint32(data))
		return
	}
	a.b = append(a.b, 0xd7, 0xff) // fixext8
	a.b = binary.BigEndian.AppendUint64(a.b, data)
}

func (a *appender) strings(ss []string) {
	if ss == nil {
		a.null()
		return
	}
	a.arrayLen(len(ss))
	for _, s := range ss {
		a.str(s)
	}
}

func (a *appender) int64Ptr(p *int64) {
	if p == nil {
		a.null()
		return
	}
	a.int64(*p)
}

func (a *appender) float64Ptr(p *float64) {
	if p == nil {
		a.null()
		return
	}
	a.float64(*p)
}

// key writes a struct field's name.
func (a *appender) key(name string) { a.str(name) }

// appendSlice writes a slice of structs: nil as nil, else an array of
// what item writes.
func appendSlice[T any](a *appender, s []T, item func(*appender, *T)) {
	if s == nil {
		a.null()
		return
	}
	a.arrayLen(len(s))
	for i := range s {
		item(a, &s[i])
	}
}
