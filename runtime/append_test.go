package runtime

import (
	"bytes"
	"math"
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
