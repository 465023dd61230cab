package seal

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

var (
	oldSecret = bytes.Repeat([]byte("o"), 32)
	newSecret = bytes.Repeat([]byte("n"), 32)
)

func mustNew(t testing.TB, name string, secrets ...[]byte) *Sealer {
	t.Helper()
	s, err := New(name, secrets, 4*4000)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSealOpens(t *testing.T) {
	s := mustNew(t, "session", newSecret)
	for _, plain := range [][]byte{nil, []byte("x"), bytes.Repeat([]byte{0xff}, 3000)} {
		v := s.Seal(plain)
		if len(v) != SealedLen(len(plain)) {
			t.Errorf("sealed %d bytes into %d, SealedLen says %d", len(plain), len(v), SealedLen(len(plain)))
		}
		got, err := s.Open(v)
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("Open(Seal(%d bytes)) = %d bytes, %v", len(plain), len(got), err)
		}
	}
	if a, b := s.Seal([]byte("same")), s.Seal([]byte("same")); a == b {
		t.Fatal("two seals of the same bytes are equal: the nonce is not random")
	}
}

// TestEveryChangeIsRefused: each single-byte change of a sealed value,
// each truncation, and a value sealed with another key or for another
// cookie, does not open.
func TestEveryChangeIsRefused(t *testing.T) {
	s := mustNew(t, "session", newSecret)
	v := s.Seal([]byte(`{"uid":42}`))
	for i := range len(v) {
		for _, c := range []byte{'A', '_', '-', 'z', '0'} {
			if v[i] == c {
				continue
			}
			changed := v[:i] + string(c) + v[i+1:]
			if _, err := s.Open(changed); !errors.Is(err, ErrOpen) {
				// base64's last character can carry bits that decoding
				// ignores; only a change that decodes to other bytes counts.
				if b1, _ := b64.DecodeString(changed); !bytes.Equal(b1, mustDecode(t, v)) {
					t.Fatalf("byte %d changed to %q: %v", i, c, err)
				}
			}
		}
	}
	for n := range len(v) {
		if _, err := s.Open(v[:n]); !errors.Is(err, ErrOpen) {
			t.Fatalf("the first %d bytes opened", n)
		}
	}
	for what, other := range map[string]*Sealer{
		"another secret":      mustNew(t, "session", oldSecret),
		"another cookie name": mustNew(t, "other", newSecret),
	} {
		if _, err := other.Open(v); !errors.Is(err, ErrOpen) {
			t.Errorf("%s opened the value: %v", what, err)
		}
	}
	if _, err := s.Open(strings.Repeat("A", 4*4000+1)); !errors.Is(err, ErrOpen) {
		t.Error("a value over the limit was decoded")
	}
}

func mustDecode(t *testing.T, v string) []byte {
	b, err := b64.DecodeString(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRotation: the first secret seals, every secret opens, and the key
// id picks the key.
func TestRotation(t *testing.T) {
	before := mustNew(t, "session", oldSecret)
	after := mustNew(t, "session", newSecret, oldSecret)
	old := before.Seal([]byte("kept"))
	if got, err := after.Open(old); err != nil || string(got) != "kept" {
		t.Fatalf("a value sealed before the rotation: %q, %v", got, err)
	}
	fresh := after.Seal([]byte("new"))
	if _, err := before.Open(fresh); !errors.Is(err, ErrOpen) {
		t.Fatal("a value sealed with the new secret opened without it")
	}
	if id := mustDecode(t, fresh)[1:5]; !bytes.Equal(id, mustDecode(t, mustNew(t, "session", newSecret).Seal(nil))[1:5]) {
		t.Fatal("the new first secret did not seal")
	}
	if _, err := New("session", [][]byte{newSecret, newSecret}, 100); err == nil {
		t.Fatal("two equal secrets were accepted")
	}
}

// TestSplitAndReassemble: chunks put back in order open; missing,
// reordered or repeated ones do not; too many is an error naming sizes.
func TestSplitAndReassemble(t *testing.T) {
	s := mustNew(t, "session", newSecret)
	v := s.Seal(bytes.Repeat([]byte("x"), 7000))
	chunks, err := Split(v, 4000, 4)
	if err != nil || len(chunks) != 3 {
		t.Fatalf("%d chunks, %v", len(chunks), err)
	}
	if _, err := s.Open(strings.Join(chunks, "")); err != nil {
		t.Fatal(err)
	}
	for what, cs := range map[string][]string{
		"missing":  {chunks[0], chunks[2]},
		"reversed": {chunks[2], chunks[1], chunks[0]},
		"swapped":  {chunks[1], chunks[0], chunks[2]},
		"repeated": {chunks[0], chunks[1], chunks[1], chunks[2]},
	} {
		if _, err := s.Open(strings.Join(cs, "")); !errors.Is(err, ErrOpen) {
			t.Errorf("%s chunks opened", what)
		}
	}
	var tooLarge *TooLargeError
	if _, err := Split(v, 4000, 2); !errors.As(err, &tooLarge) || tooLarge.Size != len(v) || tooLarge.Limit != 8000 {
		t.Fatalf("over the limit: %v", err)
	}
}

// FuzzOpen: no input panics, and what opens is what was sealed.
func FuzzOpen(f *testing.F) {
	s := mustNew(f, "session", newSecret)
	f.Add(s.Seal([]byte("seed")))
	f.Add("")
	f.Add(strings.Repeat("A", 100))
	f.Fuzz(func(t *testing.T, v string) {
		plain, err := s.Open(v)
		if err == nil && string(plain) != "seed" {
			t.Fatalf("%q opened to %q, which was never sealed", v, plain)
		}
	})
}
