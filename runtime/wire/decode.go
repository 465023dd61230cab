package wire

import (
	"encoding"
	"time"
	"unsafe"

	"github.com/sessiongen/sessiongen/runtime/internal/mp"
	"github.com/vmihailenco/msgpack/v5"
)

// The Decode functions read the value at b[i:] into *p, of any type whose
// underlying type is the one they read, and return the offset after it.
// On an error *p is left zero, so that a field that does not decode reads
// as its zero value: generated decoders are one call per field.

// Signed is an integer type that DecodeInt reads.
type Signed interface {
	~int | ~int8 | ~int16 | ~int32 | ~int64
}

// Unsigned is an integer type that DecodeUint reads.
type Unsigned interface {
	~uint | ~uint8 | ~uint16 | ~uint32 | ~uint64 | ~uintptr
}

// DecodeInt reads an integer that must fit in *p's type.
func DecodeInt[T Signed](b []byte, i int, p *T) (int, error) {
	if i < len(b) && (b[i] <= 0x7f || b[i] >= 0xe0) { // a fixint fits any type
		*p = T(int8(b[i]))
		return i + 1, nil
	}
	n, j, err := mp.ReadInt(b, i, int(unsafe.Sizeof(*p))*8)
	*p = T(n)
	return j, err
}

// DecodeUint reads a non-negative integer that must fit in *p's type.
func DecodeUint[T Unsigned](b []byte, i int, p *T) (int, error) {
	n, j, err := mp.ReadUint(b, i, int(unsafe.Sizeof(*p))*8)
	*p = T(n)
	return j, err
}

// DecodeBool reads a boolean.
func DecodeBool[T ~bool](b []byte, i int, p *T) (int, error) {
	v, j, err := mp.ReadBool(b, i)
	*p = T(v)
	return j, err
}

// DecodeFloat32 reads a float 32, or what msgpack/v5 decodes as one.
func DecodeFloat32[T ~float32](b []byte, i int, p *T) (int, error) {
	v, j, err := mp.ReadFloat32(b, i)
	*p = T(v)
	return j, err
}

// DecodeFloat64 reads a float 64, or what msgpack/v5 decodes as one.
func DecodeFloat64[T ~float64](b []byte, i int, p *T) (int, error) {
	v, j, err := mp.ReadFloat64(b, i)
	*p = T(v)
	return j, err
}

// DecodeString reads a str (or bin); nil reads as "".
func DecodeString[T ~string](b []byte, i int, p *T) (int, error) {
	if v, j, ok := mp.Fixstr(b, i); ok {
		*p = T(v)
		return j, nil
	}
	v, j, err := mp.ReadString(b, i)
	*p = T(v)
	return j, err
}

// DecodeBytes reads a bin (or str) into a new slice; nil reads as nil.
func DecodeBytes[T ~[]byte](b []byte, i int, p *T) (int, error) {
	v, j, err := mp.ReadBytes(b, i)
	*p = T(v)
	return j, err
}

// DecodeTime reads a timestamp as msgpack/v5 does.
func DecodeTime(b []byte, i int, p *time.Time) (int, error) {
	v, j, err := mp.ReadTime(b, i)
	*p = v
	return j, err
}

// DecodeBinary reads a bin into *p's UnmarshalBinary.
func DecodeBinary[T any, P interface {
	*T
	encoding.BinaryUnmarshaler
}](b []byte, i int, p P) (int, error) {
	j, err := mp.ReadBinary(b, i, p)
	zeroIf(p, err)
	return j, err
}

// DecodeText reads a str or bin into *p's UnmarshalText.
func DecodeText[T any, P interface {
	*T
	encoding.TextUnmarshaler
}](b []byte, i int, p P) (int, error) {
	j, err := mp.ReadText(b, i, p)
	zeroIf(p, err)
	return j, err
}

// DecodeCustom hands the value at b[i:] to *p's DecodeMsgpack.
func DecodeCustom[T any, P interface {
	*T
	msgpack.CustomDecoder
}](b []byte, i int, p P) (int, error) {
	j, err := mp.ReadCustom(b, i, p)
	zeroIf(p, err)
	return j, err
}

// zeroIf zeroes *p when err is not nil.
func zeroIf[T any](p *T, err error) {
	if err != nil {
		var zero T
		*p = zero
	}
}
