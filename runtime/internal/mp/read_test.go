package mp

import (
	"bytes"
	"errors"
	"math"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

func TestDecodeIntRejectsOverflow(t *testing.T) {
	for _, tc := range []struct {
		v    any
		bits int
		ok   bool
	}{
		{uint64(math.MaxInt64) + 1, 64, false},
		{int64(math.MaxInt64), 64, true},
		{300, 8, false},
		{-129, 8, false},
		{-128, 8, true},
		{nil, 64, true},
		{"str", 64, false},
	} {
		b, _ := msgpack.Marshal(tc.v)
		_, j, err := ReadInt(b, 0, tc.bits)
		if (err == nil) != tc.ok || err == nil && j != len(b) {
			t.Errorf("ReadInt(%v, %d): err %v, read %d of %d bytes, want ok=%v", tc.v, tc.bits, err, j, len(b), tc.ok)
		}
	}
	for _, tc := range []struct {
		v    any
		bits int
		ok   bool
	}{
		{-1, 64, false},
		{256, 8, false},
		{uint64(math.MaxUint64), 64, true},
		{255, 8, true},
	} {
		b, _ := msgpack.Marshal(tc.v)
		_, j, err := ReadUint(b, 0, tc.bits)
		if (err == nil) != tc.ok || err == nil && j != len(b) {
			t.Errorf("ReadUint(%v, %d): err %v, read %d of %d bytes, want ok=%v", tc.v, tc.bits, err, j, len(b), tc.ok)
		}
	}
}

// TestDepthCountsContainers: MaxDepth bounds nested arrays and maps, what
// decoders recurse into; a scalar at the bottom of the deepest container
// allowed is fine (an encoder writes a nil where it read an empty map).
func TestDepthCountsContainers(t *testing.T) {
	nest := func(levels int, leaf byte) []byte {
		return append(bytes.Repeat([]byte{0x91}, levels), leaf)
	}
	if _, err := Skip(nest(MaxDepth, 0xc0), 0); err != nil {
		t.Errorf("%d arrays around a nil: %v", MaxDepth, err)
	}
	if _, err := Skip(nest(MaxDepth-1, 0x90), 0); err != nil {
		t.Errorf("%d arrays around an empty one: %v", MaxDepth-1, err)
	}
	if _, err := Skip(nest(MaxDepth, 0x90), 0); !errors.Is(err, ErrCorrupt) {
		t.Errorf("%d arrays around an empty one: %v, want ErrCorrupt", MaxDepth, err)
	}
}
