package mp

import (
	"encoding"
	"encoding/binary"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// The Read functions decode msgpack from a byte slice for generated
// decoders: each reads the value at b[i:] and returns it with the offset
// just after it. They read the encodings msgpack/v5's Encoder writes
// directly and hand anything else (a float for a float64 written as an
// integer, a string for a time) to msgpack/v5's Decoder, so they accept
// exactly what it accepts. Lengths are checked against the bytes that
// remain before anything is allocated: a hostile length is an error,
// never a large allocation.

// IsNil reports whether the value at b[i:] is nil.
func IsNil(b []byte, i int) bool { return i < len(b) && b[i] == 0xc0 }

// ReadInt reads an integer that must fit in a signed integer of the given
// bit size. Values that do not fit are an error, never wrapped.
func ReadInt(b []byte, i, bits int) (int64, int, error) {
	if i < len(b) {
		var n int64
		j := i
		switch c, rest := b[i], len(b)-i; { // the common encodings, one load each
		case c <= 0x7f || c >= 0xe0:
			return int64(int8(c)), i + 1, nil
		case c == 0xcc && rest >= 2:
			n, j = int64(b[i+1]), i+2
		case c == 0xcd && rest >= 3:
			n, j = int64(binary.BigEndian.Uint16(b[i+1:])), i+3
		case c == 0xce && rest >= 5:
			n, j = int64(binary.BigEndian.Uint32(b[i+1:])), i+5
		case c == 0xd0 && rest >= 2:
			n, j = int64(int8(b[i+1])), i+2
		case c == 0xd1 && rest >= 3:
			n, j = int64(int16(binary.BigEndian.Uint16(b[i+1:]))), i+3
		case c == 0xd2 && rest >= 5:
			n, j = int64(int32(binary.BigEndian.Uint32(b[i+1:]))), i+5
		case c == 0xd3 && rest >= 9:
			n, j = int64(binary.BigEndian.Uint64(b[i+1:])), i+9
		}
		if j > i && (bits == 64 || n >= -1<<(bits-1) && n <= 1<<(bits-1)-1) {
			return n, j, nil
		}
	}
	return readIntChecked(b, i, bits)
}

// readIntChecked is ReadInt's slow path: nil, uint 64, and every error.
func readIntChecked(b []byte, i, bits int) (int64, int, error) {
	if i < len(b) {
		switch c := b[i]; { // a fixint never comes here: ReadInt reads it
		case c == 0xc0:
			return 0, i + 1, nil
		case c == 0xcf && i+9 <= len(b) && b[i+1] >= 0x80:
			return 0, i, fmt.Errorf("integer %d overflows int%d", binary.BigEndian.Uint64(b[i+1:]), bits)
		case c >= 0xcc && c <= 0xcf || c >= 0xd0 && c <= 0xd3:
			n, j, err := readInt(b, i)
			if err != nil {
				return 0, i, err
			}
			if bits < 64 && (n < -1<<(bits-1) || n > 1<<(bits-1)-1) {
				return 0, i, fmt.Errorf("integer %d overflows int%d", n, bits)
			}
			return n, j, nil
		}
	}
	return 0, i, fmt.Errorf("expected an integer, found %s", codeAt(b, i))
}

// ReadUint reads an integer that must fit in an unsigned integer of the
// given bit size. Negative values are an error.
func ReadUint(b []byte, i, bits int) (uint64, int, error) {
	if i < len(b) && b[i] == 0xcf { // the one encoding readInt refuses: over MaxInt64
		j, err := span(b, i+1, 8)
		if err != nil {
			return 0, i, err
		}
		return checkUint(binary.BigEndian.Uint64(b[i+1:j]), bits, j)
	}
	n, j, err := ReadInt(b, i, 64)
	if err != nil {
		return 0, i, err
	}
	if n < 0 {
		return 0, i, fmt.Errorf("integer %d is negative, expected uint%d", n, bits)
	}
	return checkUint(uint64(n), bits, j)
}

func checkUint(n uint64, bits, j int) (uint64, int, error) {
	if bits < 64 && n > 1<<bits-1 {
		return 0, j, fmt.Errorf("integer %d overflows uint%d", n, bits)
	}
	return n, j, nil
}

// ReadBool reads a boolean; nil reads as false.
func ReadBool(b []byte, i int) (bool, int, error) {
	if i < len(b) {
		switch b[i] {
		case 0xc3:
			return true, i + 1, nil
		case 0xc2, 0xc0:
			return false, i + 1, nil
		}
	}
	return false, i, fmt.Errorf("expected a boolean, found %s", codeAt(b, i))
}

// ReadFloat32 reads a float 32, or what msgpack/v5 decodes as one: an
// integer (rounded to the nearest float32).
func ReadFloat32(b []byte, i int) (float32, int, error) {
	if i+5 <= len(b) && b[i] == 0xca {
		return math.Float32frombits(binary.BigEndian.Uint32(b[i+1:])), i + 5, nil
	}
	if isInt(b, i) {
		f, j, err := readIntAsFloat(b, i)
		return float32(f), j, err
	}
	return slow(b, i, (*msgpack.Decoder).DecodeFloat32)
}

// ReadFloat64 reads a float 64, or what msgpack/v5 decodes as one: a
// float 32 or an integer (rounded to the nearest float64).
func ReadFloat64(b []byte, i int) (float64, int, error) {
	if i+9 <= len(b) && b[i] == 0xcb {
		return math.Float64frombits(binary.BigEndian.Uint64(b[i+1:])), i + 9, nil
	}
	if isInt(b, i) {
		return readIntAsFloat(b, i)
	}
	return slow(b, i, (*msgpack.Decoder).DecodeFloat64)
}

// isInt reports whether the value at b[i:] is an integer.
func isInt(b []byte, i int) bool {
	if i >= len(b) {
		return false
	}
	c := b[i]
	return c <= 0x7f || c >= 0xe0 || c >= 0xcc && c <= 0xcf || c >= 0xd0 && c <= 0xd3
}

// readIntAsFloat reads the integer at b[i:] as a float64. msgpack/v5
// reads a uint 64 of 2^63 or more as a negative number there; every
// integer here keeps its sign.
func readIntAsFloat(b []byte, i int) (float64, int, error) {
	if b[i] == 0xcf {
		u, j, err := ReadUint(b, i, 64)
		return float64(u), j, err
	}
	n, j, err := ReadInt(b, i, 64)
	return float64(n), j, err
}

// ReadString reads a str (or bin); nil reads as "".
func ReadString(b []byte, i int) (string, int, error) {
	if v, j, ok := Fixstr(b, i); ok {
		return string(v), j, nil
	}
	if i+1 < len(b) && b[i] == 0xd9 { // str 8: up to 255 bytes
		if j := i + 2 + int(b[i+1]); j <= len(b) {
			return string(b[i+2 : j]), j, nil
		}
	}
	v, j, err := readRaw(b, i)
	return string(v), j, err
}

// Fixstr returns the content of a str of up to 31 bytes at b[i:], the
// common case, inlined into its callers; ok is false for anything else.
func Fixstr(b []byte, i int) (v []byte, j int, ok bool) {
	if i >= len(b) || b[i]&0xe0 != 0xa0 {
		return nil, i, false
	}
	j = i + 1 + int(b[i]&0x1f)
	if j > len(b) {
		return nil, i, false
	}
	return b[i+1 : j], j, true
}

// ReadBytes reads a bin (or str) into a new slice; nil reads as nil.
func ReadBytes(b []byte, i int) ([]byte, int, error) {
	if IsNil(b, i) {
		return nil, i + 1, nil
	}
	v, j, err := readRaw(b, i)
	if err != nil {
		return nil, i, err
	}
	return append(make([]byte, 0, len(v)), v...), j, nil
}

// ReadKey reads a map key, a str, without copying it: the result points
// into b.
func ReadKey(b []byte, i int) ([]byte, int, error) {
	if v, j, ok := Fixstr(b, i); ok {
		return v, j, nil
	}
	if i < len(b) && (b[i] >= 0xa0 && b[i] <= 0xbf || b[i] >= 0xd9 && b[i] <= 0xdb) {
		return readRaw(b, i)
	}
	return nil, i, corrupt("map key at byte %d: expected a string, found %s", i, codeAt(b, i))
}

// readRaw returns the content of the str or bin at b[i:]; nil is empty.
func readRaw(b []byte, i int) ([]byte, int, error) {
	if i >= len(b) {
		return nil, i, corrupt("truncated at byte %d", i)
	}
	var n, j int
	var err error
	switch c := b[i]; {
	case c >= 0xa0 && c <= 0xbf:
		n, j = int(c&0x1f), i+1
	case c == 0xc0:
		return nil, i + 1, nil
	case c == 0xd9 || c == 0xc4:
		n, j, err = uintN(b, i+1, 1)
	case c == 0xda || c == 0xc5:
		n, j, err = uintN(b, i+1, 2)
	case c == 0xdb || c == 0xc6:
		n, j, err = uintN(b, i+1, 4)
	default:
		return nil, i, fmt.Errorf("expected a string, found %s", codeAt(b, i))
	}
	if err != nil {
		return nil, i, err
	}
	end, err := span(b, j, n)
	if err != nil {
		return nil, i, err
	}
	return b[j:end], end, nil
}

// ReadTime reads a timestamp as msgpack/v5 does: in the local time zone,
// but the zero time in UTC.
func ReadTime(b []byte, i int) (time.Time, int, error) {
	switch {
	case i+6 <= len(b) && b[i] == 0xd6 && b[i+1] == 0xff:
		return time.Unix(int64(binary.BigEndian.Uint32(b[i+2:])), 0), i + 6, nil
	case i+10 <= len(b) && b[i] == 0xd7 && b[i+1] == 0xff:
		d := binary.BigEndian.Uint64(b[i+2:])
		return time.Unix(int64(d&(1<<34-1)), int64(d>>34)), i + 10, nil
	case i+15 <= len(b) && b[i] == 0xc7 && b[i+1] == 12 && b[i+2] == 0xff:
		t := time.Unix(int64(binary.BigEndian.Uint64(b[i+7:])), int64(binary.BigEndian.Uint32(b[i+3:])))
		if t.IsZero() { // only this form, of signed seconds, reaches year 1
			t = t.UTC()
		}
		return t, i + 15, nil
	}
	return slow(b, i, (*msgpack.Decoder).DecodeTime)
}

// ReadMapLen reads a map header; nil reads as -1.
func ReadMapLen(b []byte, i int) (int, int, error) {
	if i < len(b) && b[i]&0xf0 == 0x80 { // fixmap: up to 15 entries
		if n := int(b[i] & 0x0f); n <= (len(b)-i-1)/2 {
			return n, i + 1, nil
		}
	}
	if IsNil(b, i) {
		return -1, i + 1, nil
	}
	return mapHeader(b, i)
}

// ReadArrayLen reads an array header; nil reads as -1.
func ReadArrayLen(b []byte, i int) (int, int, error) {
	if i < len(b) && b[i]&0xf0 == 0x90 { // fixarray: up to 15 elements
		if n := int(b[i] & 0x0f); n <= len(b)-i-1 {
			return n, i + 1, nil
		}
	}
	switch {
	case IsNil(b, i):
		return -1, i + 1, nil
	case i < len(b) && (b[i] >= 0x90 && b[i] <= 0x9f || b[i] == 0xdc || b[i] == 0xdd):
		return arrayHeader(b, i)
	}
	return 0, i, fmt.Errorf("expected an array, found %s", codeAt(b, i))
}

// ReadArrayOf reads an array header that must announce exactly n elements.
func ReadArrayOf(b []byte, i, n int) (int, error) {
	got, j, err := ReadArrayLen(b, i)
	if err == nil && got != n {
		err = fmt.Errorf("array of %d elements, want %d", got, n)
	}
	return j, err
}

// ReadByteArray reads a bin of exactly len(dst) bytes into dst, which it
// leaves zero on an error.
func ReadByteArray(b []byte, i int, dst []byte) (int, error) {
	v, j, err := readRaw(b, i)
	if err == nil && len(v) != len(dst) {
		err = fmt.Errorf("%d bytes, want %d", len(v), len(dst))
	}
	if err != nil {
		clear(dst)
		return j, err
	}
	copy(dst, v)
	return j, nil
}

// Skip returns the offset just past the value at b[i:].
func Skip(b []byte, i int) (int, error) { return skip(b, i, 1) }

// ReadBinary reads a bin into u's UnmarshalBinary.
func ReadBinary(b []byte, i int, u encoding.BinaryUnmarshaler) (int, error) {
	v, j, err := readRaw(b, i)
	if err != nil {
		return i, err
	}
	return j, u.UnmarshalBinary(v)
}

// ReadText reads a str or bin into u's UnmarshalText.
func ReadText(b []byte, i int, u encoding.TextUnmarshaler) (int, error) {
	v, j, err := readRaw(b, i)
	if err != nil {
		return i, err
	}
	return j, u.UnmarshalText(v)
}

// ReadCustom hands the value at b[i:] to v's DecodeMsgpack.
func ReadCustom(b []byte, i int, v msgpack.CustomDecoder) (int, error) {
	_, j, err := slow(b, i, func(dec *msgpack.Decoder) (struct{}, error) {
		return struct{}{}, v.DecodeMsgpack(dec)
	})
	return j, err
}

// codeAt describes the code at b[i], for errors.
func codeAt(b []byte, i int) string {
	if i >= len(b) {
		return "the end of the record"
	}
	return fmt.Sprintf("code %#x", b[i])
}

// sliceDecoder is a msgpack.Decoder reading one value from a slice.
type sliceDecoder struct {
	rd  Reader
	dec *msgpack.Decoder
}

var sliceDecoders = sync.Pool{New: func() any {
	d := new(sliceDecoder)
	d.dec = msgpack.NewDecoder(&d.rd)
	return d
}}

// Zero resets d's fields to their zero values, by decoding an empty map
// into it.
func Zero(d msgpack.CustomDecoder) {
	sd := sliceDecoders.Get().(*sliceDecoder)
	defer sliceDecoders.Put(sd)
	sd.rd.Reset([]byte{0x80})
	sd.dec.Reset(&sd.rd)
	_ = d.DecodeMsgpack(sd.dec) // cannot fail on an empty map
}

// slow decodes the value at b[i:] with msgpack/v5's Decoder.
func slow[T any](b []byte, i int, read func(*msgpack.Decoder) (T, error)) (T, int, error) {
	var v T
	end, err := skip(b, i, 1)
	if err != nil {
		return v, i, err
	}
	d := sliceDecoders.Get().(*sliceDecoder)
	defer sliceDecoders.Put(d)
	d.rd.Reset(b[i:end])
	d.dec.Reset(&d.rd)
	v, err = read(d.dec)
	return v, end, err
}
