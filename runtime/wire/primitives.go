package wire

import (
	"encoding"
	"time"

	"github.com/sessiongen/sessiongen/runtime/internal/mp"
	"github.com/vmihailenco/msgpack/v5"
)

// The msgpack primitives generated code calls. Each Append function
// appends one value to b, byte for byte as msgpack/v5's Encoder writes it;
// each Read function reads the value at b[i:] and returns the offset just
// after it, checking every length against the bytes that remain.

// AppendNil appends nil.
func AppendNil(b []byte) []byte { return mp.AppendNil(b) }

// AppendBool appends true or false.
func AppendBool(b []byte, v bool) []byte { return mp.AppendBool(b, v) }

// AppendInt appends n in its shortest form.
func AppendInt(b []byte, n int64) []byte { return mp.AppendInt(b, n) }

// AppendUint appends n in its shortest form.
func AppendUint(b []byte, n uint64) []byte { return mp.AppendUint(b, n) }

// AppendFloat32 appends f as a float 32.
func AppendFloat32(b []byte, f float32) []byte { return mp.AppendFloat32(b, f) }

// AppendFloat64 appends f as a float 64.
func AppendFloat64(b []byte, f float64) []byte { return mp.AppendFloat64(b, f) }

// AppendString appends s as a str.
func AppendString(b []byte, s string) []byte { return mp.AppendString(b, s) }

// AppendBytes appends v as a bin; a nil slice as nil.
func AppendBytes(b []byte, v []byte) []byte { return mp.AppendBytes(b, v) }

// AppendMapLen appends the header of a map of n entries.
func AppendMapLen(b []byte, n int) []byte { return mp.AppendMapLen(b, n) }

// AppendTime appends t as the msgpack timestamp extension (type -1).
func AppendTime(b []byte, t time.Time) []byte { return mp.AppendTime(b, t) }

// AppendBinary appends m's MarshalBinary as a bin.
func AppendBinary(b []byte, m encoding.BinaryMarshaler) ([]byte, error) {
	return mp.AppendBinary(b, m)
}

// AppendText appends m's MarshalText as a bin.
func AppendText(b []byte, m encoding.TextMarshaler) ([]byte, error) { return mp.AppendText(b, m) }

// AppendCustom appends what v's EncodeMsgpack writes.
func AppendCustom(b []byte, v msgpack.CustomEncoder) ([]byte, error) {
	return mp.AppendCustom(b, v)
}

// ReadKey reads a map key, a str, without copying it: the result points
// into b.
func ReadKey(b []byte, i int) ([]byte, int, error) { return mp.ReadKey(b, i) }

// ReadMapLen reads a map header; nil reads as -1.
func ReadMapLen(b []byte, i int) (int, int, error) { return mp.ReadMapLen(b, i) }

// ReadByteArray reads a bin of exactly len(dst) bytes into dst, which it
// leaves zero on an error.
func ReadByteArray(b []byte, i int, dst []byte) (int, error) { return mp.ReadByteArray(b, i, dst) }

// Skip returns the offset just past the value at b[i:], which it checks
// without decoding.
func Skip(b []byte, i int) (int, error) { return mp.Skip(b, i) }
