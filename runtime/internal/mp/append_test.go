package mp

import (
	"bytes"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// TestAppendMatchesEncoder holds the Append functions to msgpack/v5's
// Encoder, byte for byte, at every boundary between encodings: records
// written before and after the generated code used them must not differ.
func TestAppendMatchesEncoder(t *testing.T) {
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	check := func(what string, got []byte, encode func() error) {
		t.Helper()
		buf.Reset()
		if err := encode(); err != nil {
			t.Fatal(err)
		}
		// Append to a non-empty slice: the functions must only append.
		if want := append([]byte{0x01}, buf.Bytes()...); !bytes.Equal(got, want) {
			t.Errorf("%s: % x, msgpack writes % x", what, got, want)
		}
	}
	prefix := func() []byte { return []byte{0x01} }

	ints := []int64{0, 1, 127, 128, 255, 256, 65535, 65536, math.MaxUint32, math.MaxUint32 + 1, math.MaxInt64,
		-1, -32, -33, -128, -129, -32768, -32769, math.MinInt32, math.MinInt32 - 1, math.MinInt64}
	for _, n := range ints {
		check("int", AppendInt(prefix(), n), func() error { return enc.EncodeInt(n) })
		check("uint", AppendUint(prefix(), uint64(n)), func() error { return enc.EncodeUint(uint64(n)) })
	}
	for _, f := range []float64{0, -1.5, math.Inf(1), math.NaN(), math.MaxFloat64, math.SmallestNonzeroFloat64} {
		check("float64", AppendFloat64(prefix(), f), func() error { return enc.EncodeFloat64(f) })
		check("float32", AppendFloat32(prefix(), float32(f)), func() error { return enc.EncodeFloat32(float32(f)) })
	}
	check("true", AppendBool(prefix(), true), func() error { return enc.EncodeBool(true) })
	check("false", AppendBool(prefix(), false), func() error { return enc.EncodeBool(false) })
	check("nil", AppendNil(prefix()), func() error { return enc.EncodeNil() })
	for _, n := range []int{0, 1, 15, 16, 31, 32, 255, 256, 65535, 65536} {
		s := strings.Repeat("x", n)
		check("string", AppendString(prefix(), s), func() error { return enc.EncodeString(s) })
		check("bytes", AppendBytes(prefix(), []byte(s)), func() error { return enc.EncodeBytes([]byte(s)) })
		check("map", AppendMapLen(prefix(), n), func() error { return enc.EncodeMapLen(n) })
		check("array", AppendArrayLen(prefix(), n), func() error { return enc.EncodeArrayLen(n) })
	}
	check("nil bytes", AppendBytes(prefix(), nil), func() error { return enc.EncodeBytes(nil) })
	for _, tm := range []time.Time{
		{}, time.Unix(0, 0), time.Unix(1_800_000_000, 0), time.Unix(1_800_000_000, 999_999_999),
		time.Unix(1<<34-1, 0), time.Unix(1<<34, 1), time.Unix(-1, 0), time.Date(9999, 12, 31, 23, 59, 59, 1, time.UTC),
	} {
		check("time "+tm.String(), AppendTime(prefix(), tm), func() error { return enc.EncodeTime(tm) })
	}
}

// TestReadMatchesDecoder holds the Read functions to msgpack/v5's
// Decoder: for every value, both succeed with the same result or both
// fail, and a success reads the whole value.
func TestReadMatchesDecoder(t *testing.T) {
	values := []any{nil, true, false, 0, 1, -1, 127, 128, -33, 255, 256, -129, 70000, -70000,
		int64(math.MaxInt64), int64(math.MinInt64), uint64(math.MaxUint64), uint64(math.MaxInt64) + 1,
		float32(1.5), 2.5, "", "tea", strings.Repeat("x", 40), strings.Repeat("y", 300), strings.Repeat("z", 70000),
		[]byte{}, []byte{1, 2, 3}, bytes.Repeat([]byte{7}, 300),
		time.Time{}, time.Unix(0, 0), time.Unix(1_800_000_000, 0), time.Unix(1_800_000_000, 5), time.Unix(1<<34, 1),
		[]any{1, 2}, map[string]any{"a": 1}, "2026-11-22T10:00:00Z", []any{int64(1_800_000_000), 7},
	}
	dec := msgpack.NewDecoder(bytes.NewReader(nil))
	for _, v := range values {
		b, err := msgpack.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		same := func(what string, got any, j int, gotErr error, want any, wantErr error) {
			t.Helper()
			if (gotErr == nil) != (wantErr == nil) {
				t.Errorf("%s of %#v: error %v, msgpack's %v", what, v, gotErr, wantErr)
				return
			}
			if gotErr != nil {
				return
			}
			if tm, ok := want.(time.Time); ok {
				if g := got.(time.Time); !g.Equal(tm) || g.Location() != tm.Location() {
					t.Errorf("%s of %#v: %v, msgpack's %v", what, v, got, want)
				}
			} else if !reflect.DeepEqual(got, want) {
				t.Errorf("%s of %#v: %#v, msgpack's %#v", what, v, got, want)
			}
			if j != len(b) {
				t.Errorf("%s of %#v: read %d of %d bytes", what, v, j, len(b))
			}
		}
		reset := func() *msgpack.Decoder { dec.Reset(bytes.NewReader(b)); return dec }

		n, j, err := ReadInt(b, 0, 64)
		want, wantErr := reset().DecodeInt64()
		if u, ok := v.(uint64); ok && u > math.MaxInt64 {
			if err == nil { // msgpack wraps it around; E6 wants an error
				t.Errorf("ReadInt of %d: %d, no error", u, n)
			}
		} else {
			same("ReadInt", n, j, err, want, wantErr)
		}
		s, j, err := ReadString(b, 0)
		wantS, wantErr := reset().DecodeString()
		same("ReadString", s, j, err, wantS, wantErr)
		by, j, err := ReadBytes(b, 0)
		wantB, wantErr := reset().DecodeBytes()
		same("ReadBytes", by, j, err, wantB, wantErr)
		bo, j, err := ReadBool(b, 0)
		wantBo, wantErr := reset().DecodeBool()
		same("ReadBool", bo, j, err, wantBo, wantErr)
		f, j, err := ReadFloat64(b, 0)
		wantF, wantErr := reset().DecodeFloat64()
		f32, j32, err32 := ReadFloat32(b, 0)
		wantF32, wantErr32 := reset().DecodeFloat32()
		if u, ok := v.(uint64); ok && u > math.MaxInt64 {
			// msgpack/v5 reads these as negative numbers; they are not.
			if f != float64(u) || f32 != float32(u) || err != nil || err32 != nil {
				t.Errorf("ReadFloat of %d: %v, %v (%v, %v)", u, f, f32, err, err32)
			}
		} else {
			same("ReadFloat64", f, j, err, wantF, wantErr)
			same("ReadFloat32", f32, j32, err32, wantF32, wantErr32)
		}
		tm, j, err := ReadTime(b, 0)
		wantT, wantErr := reset().DecodeTime()
		same("ReadTime", tm, j, err, wantT, wantErr)
	}
}
