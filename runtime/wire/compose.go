package wire

import (
	"encoding"
	"fmt"
	"time"
	"unsafe"

	"github.com/sessiongen/sessiongen/runtime/internal/mp"
	"github.com/vmihailenco/msgpack/v5"
)

// Generated codecs compose these: an encoder of an element appends *p to
// b, a decoder reads the value at b[i:] into *p, leaving it zero on an
// error. A generated encoder or decoder of a struct has the same shape,
// and so do the Encode and Decode functions of every primitive kind.

// AppendSliceLen starts a slice: the header of an array of len(v)
// elements, or nil for a nil slice. The caller appends the elements.
func AppendSliceLen[S ~[]T, T any](b []byte, v S) []byte {
	if v == nil {
		return AppendNil(b)
	}
	return mp.AppendArrayLen(b, len(v))
}

// ReadSliceLen reads an array header into *p: a new slice of its length
// (nil for nil), whose elements the caller decodes. On an error *p is nil.
// A slice may take at most 16 bytes of memory for each byte of b that
// remains (beyond 64 KiB): a hostile array of a million nils, each a
// zero element, cannot make a request allocate a hundred times its record.
func ReadSliceLen[S ~[]T, T any](b []byte, i int, p *S) (int, int, error) {
	n, j, err := mp.ReadArrayLen(b, i)
	if err != nil || n < 0 {
		*p = nil
		return 0, j, err
	}
	if need := uint64(n) * uint64(unsafe.Sizeof(*new(T))); need > 1<<16 && need > 16*uint64(len(b)-j) {
		*p = nil
		return 0, i, fmt.Errorf("%w: an array of %d elements (%d bytes of memory) in %d bytes", mp.ErrCorrupt, n, need, len(b)-j)
	}
	*p = make(S, n)
	return n, j, nil
}

// AppendArray appends the elements of an array, v[:], each with enc.
func AppendArray[T any](b []byte, v []T, enc func([]byte, *T) ([]byte, error)) (_ []byte, err error) {
	b = mp.AppendArrayLen(b, len(v))
	for i := range v {
		if b, err = enc(b, &v[i]); err != nil {
			return b, err
		}
	}
	return b, nil
}

// ReadArray reads an array of exactly len(v) elements into v, an array's
// v[:], each with dec.
func ReadArray[T any](b []byte, i int, v []T, dec func([]byte, int, *T) (int, error)) (_ int, err error) {
	clear(v)
	i, err = mp.ReadArrayOf(b, i, len(v))
	for k := 0; err == nil && k < len(v); k++ {
		i, err = dec(b, i, &v[k])
	}
	if err != nil {
		clear(v)
	}
	return i, err
}

// AppendPointer appends *v with enc; a nil pointer as nil.
func AppendPointer[P ~*T, T any](b []byte, v P, enc func([]byte, *T) ([]byte, error)) ([]byte, error) {
	if v == nil {
		return AppendNil(b), nil
	}
	return enc(b, v)
}

// ReadPointer reads a value into a new pointer with dec; nil reads as nil.
func ReadPointer[P ~*T, T any](b []byte, i int, p *P, dec func([]byte, int, *T) (int, error)) (int, error) {
	*p = nil
	if mp.IsNil(b, i) {
		return i + 1, nil
	}
	v := new(T)
	i, err := dec(b, i, v)
	if err == nil {
		*p = v
	}
	return i, err
}

// EncodeBool appends *p.
func EncodeBool[T ~bool](b []byte, p *T) ([]byte, error) { return AppendBool(b, bool(*p)), nil }

// EncodeInt appends *p.
func EncodeInt[T Signed](b []byte, p *T) ([]byte, error) { return AppendInt(b, int64(*p)), nil }

// EncodeUint appends *p.
func EncodeUint[T Unsigned](b []byte, p *T) ([]byte, error) { return AppendUint(b, uint64(*p)), nil }

// EncodeFloat32 appends *p.
func EncodeFloat32[T ~float32](b []byte, p *T) ([]byte, error) {
	return AppendFloat32(b, float32(*p)), nil
}

// EncodeFloat64 appends *p.
func EncodeFloat64[T ~float64](b []byte, p *T) ([]byte, error) {
	return AppendFloat64(b, float64(*p)), nil
}

// EncodeString appends *p.
func EncodeString[T ~string](b []byte, p *T) ([]byte, error) { return AppendString(b, string(*p)), nil }

// EncodeBytes appends *p.
func EncodeBytes[T ~[]byte](b []byte, p *T) ([]byte, error) { return AppendBytes(b, []byte(*p)), nil }

// EncodeTime appends *p.
func EncodeTime(b []byte, p *time.Time) ([]byte, error) { return AppendTime(b, *p), nil }

// EncodeBinary appends p's MarshalBinary.
func EncodeBinary[P encoding.BinaryMarshaler](b []byte, p P) ([]byte, error) {
	return AppendBinary(b, p)
}

// EncodeText appends p's MarshalText.
func EncodeText[P encoding.TextMarshaler](b []byte, p P) ([]byte, error) { return AppendText(b, p) }

// EncodeCustom appends what p's EncodeMsgpack writes.
func EncodeCustom[P msgpack.CustomEncoder](b []byte, p P) ([]byte, error) {
	return AppendCustom(b, p)
}
