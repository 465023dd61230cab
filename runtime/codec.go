package runtime

import (
	"encoding"
	"fmt"
	"math"
	"strconv"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// Data is implemented by the session types sessiongen generates. The
// runtime stores a session as the msgpack map these methods write and read.
type Data interface {
	// EncodeMsgpack writes the stored fields as one msgpack map keyed by
	// field key.
	EncodeMsgpack(enc *msgpack.Encoder) error
	// DecodeMsgpack resets the stored fields to their zero values and
	// reads one msgpack map written by EncodeMsgpack (or by another
	// version of it: unknown keys are kept, missing ones stay zero).
	DecodeMsgpack(dec *msgpack.Decoder) error
}

// The functions below are called by generated code; they are not meant
// for hand-written code.

// DecodeKey reads a map key. When dec reads from the runtime's Reader the
// key is not copied: it is valid until the record is released.
func DecodeKey(dec *msgpack.Decoder) ([]byte, error) {
	r, ok := dec.Buffered().(*Reader)
	if !ok {
		s, err := dec.DecodeString()
		return []byte(s), err
	}
	c, err := r.ReadByte()
	if err != nil {
		return nil, err
	}
	var n int
	switch {
	case c >= 0xa0 && c <= 0xbf:
		n = int(c & 0x1f)
	case c == 0xd9, c == 0xda, c == 0xdb:
		size := 1 << (c - 0xd9)
		b, err := r.next(size)
		if err != nil {
			return nil, err
		}
		for _, x := range b {
			n = n<<8 | int(x)
		}
	default:
		return nil, fmt.Errorf("map key: expected a string, found code %#x", c)
	}
	return r.next(n)
}

// DecodeInt reads an integer that must fit in a signed integer of the
// given bit size. Values that do not fit are an error, never wrapped.
func DecodeInt(dec *msgpack.Decoder, bits int) (int64, error) {
	c, err := dec.PeekCode()
	if err != nil {
		return 0, err
	}
	if c == msgpcode.Uint64 {
		u, err := dec.DecodeUint64()
		if err != nil {
			return 0, err
		}
		if u > math.MaxInt64 {
			return 0, fmt.Errorf("integer %d overflows int%d", u, bits)
		}
		return checkInt(int64(u), bits)
	}
	if !msgpcode.IsFixedNum(c) && (c < msgpcode.Uint8 || c > msgpcode.Int64) && c != msgpcode.Nil {
		return 0, fmt.Errorf("expected an integer, found code %#x", c)
	}
	n, err := dec.DecodeInt64()
	if err != nil {
		return 0, err
	}
	return checkInt(n, bits)
}

func checkInt(n int64, bits int) (int64, error) {
	if bits < 64 && (n < -1<<(bits-1) || n > 1<<(bits-1)-1) {
		return 0, fmt.Errorf("integer %d overflows int%d", n, bits)
	}
	return n, nil
}

// DecodeUint reads an integer that must fit in an unsigned integer of the
// given bit size. Negative values are an error.
func DecodeUint(dec *msgpack.Decoder, bits int) (uint64, error) {
	c, err := dec.PeekCode()
	if err != nil {
		return 0, err
	}
	if msgpcode.IsFixedNum(c) && int8(c) < 0 || c >= msgpcode.Int8 && c <= msgpcode.Int64 {
		n, err := dec.DecodeInt64()
		if err != nil {
			return 0, err
		}
		if n < 0 {
			return 0, fmt.Errorf("integer %d is negative, expected uint%d", n, bits)
		}
		return checkUint(uint64(n), bits)
	}
	if !msgpcode.IsFixedNum(c) && (c < msgpcode.Uint8 || c > msgpcode.Uint64) && c != msgpcode.Nil {
		return 0, fmt.Errorf("expected an integer, found code %#x", c)
	}
	n, err := dec.DecodeUint64()
	if err != nil {
		return 0, err
	}
	return checkUint(n, bits)
}

func checkUint(n uint64, bits int) (uint64, error) {
	if bits < 64 && n > 1<<bits-1 {
		return 0, fmt.Errorf("integer %d overflows uint%d", n, bits)
	}
	return n, nil
}

// DecodeLen reads an array or map header (array when isMap is false). A
// nil reads as -1. When dec reads from the runtime's Reader, the length is
// checked against the bytes that remain, so callers can allocate it.
func DecodeLen(dec *msgpack.Decoder, isMap bool) (int, error) {
	var n int
	var err error
	if isMap {
		n, err = dec.DecodeMapLen()
	} else {
		n, err = dec.DecodeArrayLen()
	}
	if err != nil || n <= 0 {
		return n, err
	}
	limit := MaxRecordSize
	if r, ok := dec.Buffered().(*Reader); ok {
		limit = r.Len()
	}
	if n > limit {
		return 0, fmt.Errorf("length %d exceeds the %d bytes that remain", n, limit)
	}
	return n, nil
}

// IsNil reports whether the next value is nil, and consumes it if so.
func IsNil(dec *msgpack.Decoder) (bool, error) {
	c, err := dec.PeekCode()
	if err != nil || c != msgpcode.Nil {
		return false, err
	}
	return true, dec.Skip()
}

// IntSize is the size in bits of int and uint, for generated decoders.
const IntSize = strconv.IntSize

// GeneratedCodeV1 is referred to by generated code, so that code generated
// for an incompatible runtime fails to compile instead of misbehaving.
const GeneratedCodeV1 = 1

// EncodeBinary writes m's MarshalBinary as msgpack bin.
func EncodeBinary(enc *msgpack.Encoder, m encoding.BinaryMarshaler) error {
	b, err := m.MarshalBinary()
	if err != nil {
		return err
	}
	return enc.EncodeBytes(b)
}

// DecodeBinary reads msgpack bin into u's UnmarshalBinary.
func DecodeBinary(dec *msgpack.Decoder, u encoding.BinaryUnmarshaler) error {
	b, err := dec.DecodeBytes()
	if err != nil {
		return err
	}
	return u.UnmarshalBinary(b)
}

// EncodeText writes m's MarshalText as a msgpack string.
func EncodeText(enc *msgpack.Encoder, m encoding.TextMarshaler) error {
	b, err := m.MarshalText()
	if err != nil {
		return err
	}
	return enc.EncodeBytes(b)
}

// DecodeText reads a msgpack string (or bin) into u's UnmarshalText.
func DecodeText(dec *msgpack.Decoder, u encoding.TextUnmarshaler) error {
	b, err := dec.DecodeBytes()
	if err != nil {
		return err
	}
	return u.UnmarshalText(b)
}

// DecodeByteArray reads msgpack bin of exactly len(dst) bytes into dst.
func DecodeByteArray(dec *msgpack.Decoder, dst []byte) error {
	b, err := dec.DecodeBytes()
	if err != nil {
		return err
	}
	if len(b) != len(dst) {
		return fmt.Errorf("%d bytes, want %d", len(b), len(dst))
	}
	copy(dst, b)
	return nil
}

// DecodeArrayLen reads an array header that must announce exactly n elements.
func DecodeArrayLen(dec *msgpack.Decoder, n int) error {
	got, err := dec.DecodeArrayLen()
	if err != nil {
		return err
	}
	if got != n {
		return fmt.Errorf("array of %d elements, want %d", got, n)
	}
	return nil
}
