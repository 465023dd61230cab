package runtime

import (
	"errors"
	"testing"
)

// FuzzDecodeIndex: no owner index, however hostile, panics or allocates
// more than its size; what decodes encodes back to the same entries. The
// seeds hold the nil array whose length, read as -1, once made every login
// of its owner panic.
func FuzzDecodeIndex(f *testing.F) {
	f.Add([]byte{indexV1, 0xc0})                         // a nil array
	f.Add([]byte{indexV1, 0xdd, 0x7f, 0xff, 0xff, 0xff}) // an array of 2^31 entries in 6 bytes
	f.Add(encodeIndex([]ownerEntry{{key: "k", created: 1, deadline: 2}}))
	f.Fuzz(func(t *testing.T, rec []byte) {
		es, err := decodeIndex(rec)
		if err != nil {
			if !errors.Is(err, errCorrupt) {
				t.Fatalf("an unreadable index is not errCorrupt: %v", err)
			}
			return
		}
		if len(es) > len(rec) {
			t.Fatalf("%d entries from %d bytes", len(es), len(rec))
		}
		again, err := decodeIndex(encodeIndex(es))
		if err != nil || len(again) != len(es) {
			t.Fatalf("re-encoded: %d entries, %v; want %d", len(again), err, len(es))
		}
		for i := range es {
			if again[i] != es[i] {
				t.Fatalf("entry %d: %+v, then %+v", i, es[i], again[i])
			}
		}
	})
}
