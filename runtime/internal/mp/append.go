// Package mp is the msgpack under runtime/wire: the primitives generated
// code reaches through wire, and those only the runtime needs. It imports
// no sessiongen package.
package mp

import (
	"bytes"
	"encoding"
	"encoding/binary"
	"math"
	"sync"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// The Append functions write msgpack byte for byte as msgpack/v5's
// Encoder methods of the same kind do (EncodeInt, EncodeUint,
// EncodeFloat64, EncodeString, EncodeBytes, EncodeTime…): integers in
// their shortest form, floats at their own width, strings as str. They
// append to a slice, with no interface call and no error per value.
//
// msgpack/v5's Marshal is not the same: it writes a sized integer type
// (int64, uint32…) at its fixed width unless compact integers are turned
// on, so a record it writes can be longer. Both forms are valid msgpack,
// and the Read functions and msgpack/v5's Decoder accept either.

// AppendNil appends nil.
func AppendNil(b []byte) []byte { return append(b, 0xc0) }

// AppendBool appends true or false.
func AppendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 0xc3)
	}
	return append(b, 0xc2)
}

// AppendInt appends n in its shortest form.
func AppendInt(b []byte, n int64) []byte {
	switch {
	case n >= 0:
		return AppendUint(b, uint64(n))
	case n >= -32:
		return append(b, byte(n))
	case n >= math.MinInt8:
		return append(b, 0xd0, byte(n))
	case n >= math.MinInt16:
		return binary.BigEndian.AppendUint16(append(b, 0xd1), uint16(n))
	case n >= math.MinInt32:
		return binary.BigEndian.AppendUint32(append(b, 0xd2), uint32(n))
	}
	return binary.BigEndian.AppendUint64(append(b, 0xd3), uint64(n))
}

// AppendUint appends n in its shortest form.
func AppendUint(b []byte, n uint64) []byte {
	switch {
	case n <= math.MaxInt8:
		return append(b, byte(n))
	case n <= math.MaxUint8:
		return append(b, 0xcc, byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, 0xcd), uint16(n))
	case n <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(b, 0xce), uint32(n))
	}
	return binary.BigEndian.AppendUint64(append(b, 0xcf), n)
}

// AppendFloat32 appends f as a float 32.
func AppendFloat32(b []byte, f float32) []byte {
	return binary.BigEndian.AppendUint32(append(b, 0xca), math.Float32bits(f))
}

// AppendFloat64 appends f as a float 64.
func AppendFloat64(b []byte, f float64) []byte {
	return binary.BigEndian.AppendUint64(append(b, 0xcb), math.Float64bits(f))
}

// AppendString appends s as a str.
func AppendString(b []byte, s string) []byte { return AppendStr(b, s) }

// AppendStr appends s, a string or the bytes of one, as a str.
func AppendStr[T string | []byte](b []byte, s T) []byte {
	return append(appendLen(b, len(s), 0xa0, 32, 0xd9, 0xda, 0xdb), s...)
}

// AppendBytes appends v as a bin; a nil slice as nil.
func AppendBytes(b []byte, v []byte) []byte {
	if v == nil {
		return AppendNil(b)
	}
	return append(appendLen(b, len(v), 0, 0, 0xc4, 0xc5, 0xc6), v...)
}

// AppendMapLen appends the header of a map of n entries.
func AppendMapLen(b []byte, n int) []byte { return appendLen(b, n, 0x80, 16, 0, 0xde, 0xdf) }

// AppendArrayLen appends the header of an array of n elements.
func AppendArrayLen(b []byte, n int) []byte { return appendLen(b, n, 0x90, 16, 0, 0xdc, 0xdd) }

// appendLen appends a length: as fix|n when n < fixMax, else after the
// code for a one-byte length (c8, 0 when there is none), a two-byte one
// (c16) or a four-byte one (c32).
func appendLen(b []byte, n int, fix byte, fixMax int, c8, c16, c32 byte) []byte {
	switch {
	case n < fixMax:
		return append(b, fix|byte(n))
	case n <= math.MaxUint8 && c8 != 0:
		return append(b, c8, byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, c16), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(b, c32), uint32(n))
}

// AppendTime appends t as the msgpack timestamp extension (type -1), in
// the shortest of its three forms.
func AppendTime(b []byte, t time.Time) []byte {
	secs := uint64(t.Unix())
	if secs>>34 == 0 {
		data := uint64(t.Nanosecond())<<34 | secs
		if data&0xffffffff00000000 == 0 {
			return binary.BigEndian.AppendUint32(append(b, 0xd6, 0xff), uint32(data))
		}
		return binary.BigEndian.AppendUint64(append(b, 0xd7, 0xff), data)
	}
	b = binary.BigEndian.AppendUint32(append(b, 0xc7, 12, 0xff), uint32(t.Nanosecond()))
	return binary.BigEndian.AppendUint64(b, secs)
}

// AppendBinary appends m's MarshalBinary as a bin.
func AppendBinary(b []byte, m encoding.BinaryMarshaler) ([]byte, error) {
	v, err := m.MarshalBinary()
	if err != nil {
		return b, err
	}
	return AppendBytes(b, v), nil
}

// AppendText appends m's MarshalText as a bin, as EncodeText does.
func AppendText(b []byte, m encoding.TextMarshaler) ([]byte, error) {
	v, err := m.MarshalText()
	if err != nil {
		return b, err
	}
	return AppendBytes(b, v), nil
}

// customEncoder lends a msgpack.Encoder to the types that encode
// themselves (msgpack.CustomEncoder).
type customEncoder struct {
	buf bytes.Buffer
	enc *msgpack.Encoder
}

var customEncoders = sync.Pool{New: func() any {
	c := new(customEncoder)
	c.enc = msgpack.NewEncoder(&c.buf)
	return c
}}

// AppendCustom appends what v's EncodeMsgpack writes.
func AppendCustom(b []byte, v msgpack.CustomEncoder) ([]byte, error) {
	c := customEncoders.Get().(*customEncoder)
	defer customEncoders.Put(c)
	c.buf.Reset()
	c.enc.Reset(&c.buf)
	if err := v.EncodeMsgpack(c.enc); err != nil {
		return b, err
	}
	return append(b, c.buf.Bytes()...), nil
}

// Buffer is a pooled encoding buffer.
type Buffer struct{ B []byte }

// Keep makes b, appended to buf.B, the slice to reuse if it outgrew it.
func (buf *Buffer) Keep(b []byte) {
	if cap(b) > cap(buf.B) {
		buf.B = b[:0]
	}
}

// Buffers pools encoding buffers.
var Buffers = sync.Pool{New: func() any { return &Buffer{B: make([]byte, 0, 512)} }}
