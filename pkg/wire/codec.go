package wire

import (
	"fmt"

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

var (
	encoder, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1),
		// The default keeps an 8 MiB window buffer alive for the whole run.
		zstd.WithLowerEncoderMem(true))
	decoder, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(256<<20))
)

// Marshal encodes v as msgpack, compressed with zstd when large. It
// returns the body and the value for EncodingHeader ("" when plain).
// Safe for concurrent use.
func Marshal(v any) ([]byte, string, error) {
	b, err := msgpack.Marshal(v)
	if err != nil {
		return nil, "", err
	}
	if len(b) < compressAbove {
		return b, "", nil
	}
	return encoder.EncodeAll(b, make([]byte, 0, len(b)/4)), "zstd", nil
}

// Unmarshal decodes a body written by Marshal given its EncodingHeader.
// Malformed input is an error, never a panic (msgpack v5.4.1 panics on a
// nil where a time.Time is expected; the fuzzer found it). Safe for
// concurrent use.
func Unmarshal(body []byte, encoding string, v any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed msgpack: %v", r)
		}
	}()
	switch encoding {
	case "":
	case "zstd":
		plain, err := decoder.DecodeAll(body, nil)
		if err != nil {
			return fmt.Errorf("zstd: %w", err)
		}
		body = plain
	default:
		return fmt.Errorf("unknown encoding %q", encoding)
	}
	return msgpack.Unmarshal(body, v)
}
