package mp

import (
	"errors"
	"fmt"
	"io"
)

// MaxDepth is the deepest nesting of arrays and maps a value may hold:
// Skip refuses deeper ones, so that decoding cannot recurse without end.
const MaxDepth = 32

// ErrCorrupt means bytes are not the msgpack they should be: a length runs
// past the end, a container nests too deep, a code is invalid.
var ErrCorrupt = errors.New("sessiongen: corrupt session record")

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
}

// skip returns the offset just past the msgpack value at b[i:], checking
// every length against what remains. depth counts enclosing containers.
func skip(b []byte, i, depth int) (int, error) {
	if i >= len(b) {
		return 0, corrupt("truncated at byte %d", i)
	}
	c := b[i]
	switch {
	case c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3:
		return i + 1, nil
	case depth > MaxDepth && (c >= 0x80 && c <= 0x9f || c >= 0xdc && c <= 0xdf):
		// Only containers count: decoders recurse into them, not into
		// scalars. A nil at the bottom of a chain 32 deep is fine; an
		// encoder writes one where it read an empty map.
		return 0, corrupt("nested deeper than %d", MaxDepth)
	case c >= 0x80 && c <= 0x8f, c == 0xde, c == 0xdf:
		n, j, err := mapHeader(b, i)
		if err != nil {
			return 0, err
		}
		return skipN(b, j, 2*n, depth)
	case c >= 0x90 && c <= 0x9f, c == 0xdc, c == 0xdd:
		n, j, err := arrayHeader(b, i)
		if err != nil {
			return 0, err
		}
		return skipN(b, j, n, depth)
	case c >= 0xa0 && c <= 0xbf:
		return span(b, i+1, int(c&0x1f))
	}
	switch c {
	case 0xcc, 0xd0:
		return span(b, i+1, 1)
	case 0xcd, 0xd1:
		return span(b, i+1, 2)
	case 0xca, 0xce, 0xd2:
		return span(b, i+1, 4)
	case 0xcb, 0xcf, 0xd3:
		return span(b, i+1, 8)
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext 1, 2, 4, 8, 16: type byte + data
		return span(b, i+1, 1+1<<(c-0xd4))
	case 0xc4, 0xd9: // bin8, str8
		n, j, err := uintN(b, i+1, 1)
		if err != nil {
			return 0, err
		}
		return span(b, j, n)
	case 0xc5, 0xda:
		n, j, err := uintN(b, i+1, 2)
		if err != nil {
			return 0, err
		}
		return span(b, j, n)
	case 0xc6, 0xdb:
		n, j, err := uintN(b, i+1, 4)
		if err != nil {
			return 0, err
		}
		return span(b, j, n)
	case 0xc7, 0xc8, 0xc9: // ext 8, 16, 32: length, type byte, data
		n, j, err := uintN(b, i+1, 1<<(c-0xc7))
		if err != nil {
			return 0, err
		}
		return span(b, j, 1+n)
	}
	return 0, corrupt("invalid code %#x at byte %d", c, i)
}

func skipN(b []byte, i, n, depth int) (int, error) {
	var err error
	for ; n > 0; n-- {
		if i, err = skip(b, i, depth+1); err != nil {
			return 0, err
		}
	}
	return i, nil
}

// span checks that n bytes remain at b[i:] and returns the offset after them.
func span(b []byte, i, n int) (int, error) {
	if n < 0 || n > len(b)-i {
		return 0, corrupt("length %d at byte %d runs past the end", n, i)
	}
	return i + n, nil
}

// uintN reads a big-endian length of size bytes at b[i:].
func uintN(b []byte, i, size int) (int, int, error) {
	j, err := span(b, i, size)
	if err != nil {
		return 0, 0, err
	}
	var n uint64
	for _, x := range b[i:j] {
		n = n<<8 | uint64(x)
	}
	return int(n), j, nil
}

// mapHeader reads a map header at b[i:]; the count is checked against the
// bytes that remain (every key and value takes at least one).
func mapHeader(b []byte, i int) (n, j int, err error) {
	if i >= len(b) {
		return 0, 0, corrupt("truncated at byte %d", i)
	}
	switch c := b[i]; {
	case c >= 0x80 && c <= 0x8f:
		n, j = int(c&0x0f), i+1
	case c == 0xde:
		n, j, err = uintN(b, i+1, 2)
	case c == 0xdf:
		n, j, err = uintN(b, i+1, 4)
	default:
		return 0, 0, corrupt("expected a map at byte %d, found code %#x", i, c)
	}
	if err == nil && n > (len(b)-j)/2 {
		err = corrupt("map of %d entries at byte %d cannot fit in %d bytes", n, i, len(b)-j)
	}
	return n, j, err
}

func arrayHeader(b []byte, i int) (n, j int, err error) {
	switch c := b[i]; {
	case c >= 0x90 && c <= 0x9f:
		n, j = int(c&0x0f), i+1
	case c == 0xdc:
		n, j, err = uintN(b, i+1, 2)
	default:
		n, j, err = uintN(b, i+1, 4)
	}
	if err == nil && n > len(b)-j {
		err = corrupt("array of %d elements at byte %d cannot fit in %d bytes", n, i, len(b)-j)
	}
	return n, j, err
}

// readInt reads a msgpack integer at b[i:] into an int64: a header field,
// or a field value for ReadInt.
func readInt(b []byte, i int) (int64, int, error) {
	if i >= len(b) {
		return 0, 0, corrupt("truncated at byte %d", i)
	}
	c := b[i]
	switch {
	case c <= 0x7f:
		return int64(c), i + 1, nil
	case c >= 0xe0:
		return int64(int8(c)), i + 1, nil
	}
	var size int
	switch c {
	case 0xcc, 0xd0:
		size = 1
	case 0xcd, 0xd1:
		size = 2
	case 0xce, 0xd2:
		size = 4
	case 0xcf, 0xd3:
		size = 8
	}
	j, err := span(b, i+1, size)
	if size == 0 || err != nil {
		return 0, 0, corrupt("bad integer at byte %d", i)
	}
	var u uint64
	for _, x := range b[i+1 : j] {
		u = u<<8 | uint64(x)
	}
	if c >= 0xd0 { // signed: sign-extend
		shift := 64 - 8*size
		return int64(u<<shift) >> shift, j, nil
	}
	if u > 1<<63-1 {
		return 0, 0, corrupt("integer at byte %d overflows int64", i)
	}
	return int64(u), j, nil
}

// Reader is an io.Reader over a byte slice. A msgpack.Decoder reading from
// one lets generated DecodeMsgpack methods decode the bytes in place,
// through msgpack.Decoder.Buffered, instead of copying the value out.
type Reader struct {
	b []byte
	i int
}

// Reset makes r read b.
func (r *Reader) Reset(b []byte) { r.b, r.i = b, 0 }

// Read implements io.Reader.
func (r *Reader) Read(p []byte) (int, error) {
	if r.i >= len(r.b) {
		return 0, io.EOF
	}
	n := copy(p, r.b[r.i:])
	r.i += n
	return n, nil
}

// ReadByte implements io.ByteReader.
func (r *Reader) ReadByte() (byte, error) {
	if r.i >= len(r.b) {
		return 0, io.EOF
	}
	r.i++
	return r.b[r.i-1], nil
}

// UnreadByte implements io.ByteScanner.
func (r *Reader) UnreadByte() error {
	if r.i == 0 {
		return errors.New("sessiongen: UnreadByte at start")
	}
	r.i--
	return nil
}

// Rest returns what r has not read yet.
func (r *Reader) Rest() []byte { return r.b[r.i:] }

// Advance skips n bytes of what r has not read yet.
func (r *Reader) Advance(n int) { r.i += n }
