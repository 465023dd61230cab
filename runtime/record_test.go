package runtime

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

// The inputs that make msgpack v5.4.1 allocate gigabytes or spin
// (RELIABILITY.md E3), each behind a valid record header.
var hostile = map[string][]byte{
	"array32 of 4G":         {0xdd, 0xff, 0xff, 0xff, 0xff},
	"bin32 of 4G":           {0xc6, 0xff, 0xff, 0xff, 0xff},
	"map32 of 4G":           {0xdf, 0xff, 0xff, 0xff, 0xff},
	"map32 claiming 1M":     {0xdf, 0x00, 0x10, 0x00, 0x00, 0xa1, 'a', 0x01},
	"nested array16 65535":  bytes.Repeat([]byte{0xdc, 0xff, 0xff}, 2000),
	"1 MB of nested fixarr": bytes.Repeat([]byte{0x91}, 1<<20-16),
	"str32 of 4G":           {0xdb, 0xff, 0xff, 0xff, 0xff},
	"ext32 of 4G":           {0xc9, 0xff, 0xff, 0xff, 0xff, 0x01},
	"never-used code":       {0xc1},
	"truncated map":         {0x82, 0xa1, 'a'},
	"non-string key":        {0x81, 0x01, 0x02},
	"trailing bytes":        {0x80, 0x00},
}

func TestCheckRecordRejectsHostileInput(t *testing.T) { // E2, E3, E6
	for name, body := range hostile {
		// As the record's map itself, and as the value of a field.
		asMap := append(appendHeader(nil, header{created: 1}), body...)
		asValue := append(appendHeader(nil, header{created: 1}), 0x81, 0xa1, 'k')
		asValue = append(asValue, body...)
		for _, rec := range [][]byte{asMap, asValue} {
			if _, _, err := checkRecord(rec, nil); !errors.Is(err, ErrCorrupt) && name != "non-string key" {
				t.Errorf("%s: err %v, want ErrCorrupt", name, err)
			}
		}
		if _, _, err := checkRecord(asMap, nil); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s as the record map: err %v, want ErrCorrupt", name, err)
		}
	}
	for name, rec := range map[string][]byte{
		"empty":           nil,
		"unknown version": {0x02, 0x00, 0x00, 0x00, 0x80},
		"no map":          {0x01, 0x00, 0x00, 0x00},
		"no flags":        {0x01, 0x00},
		"no issued":       {0x01, 0x00, 0x00},
		"negative flags":  {0x01, 0x00, 0xff, 0x00, 0x80},
		"a forward":       forwardRecord(newID(), newID()),
		"too large":       append([]byte{0x01, 0x00, 0x00, 0x00, 0x80}, make([]byte, MaxRecordSize)...),
	} {
		if _, _, err := checkRecord(rec, nil); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: err %v, want ErrCorrupt", name, err)
		}
	}
}

func TestCheckRecordAcceptsWhatMsgpackWrites(t *testing.T) {
	var buf bytes.Buffer
	buf.Write(appendHeader(nil, header{created: -5}))
	enc := msgpack.NewEncoder(&buf)
	enc.Encode(map[string]any{
		"a": []any{1, -1, 300, -300, 70000, int64(math.MinInt64), uint64(math.MaxUint64), 1.5, float32(2.5), true, false, nil},
		"b": strings.Repeat("x", 300), "c": bytes.Repeat([]byte{1}, 70000), "d": map[string]any{"e": []any{}},
	})
	var entries []entry
	h, _, err := checkRecord(buf.Bytes(), &entries)
	if err != nil || h.created != -5 || len(entries) != 4 {
		t.Fatalf("header %+v, %d entries, err %v", h, len(entries), err)
	}
}

func TestDecodeIntRejectsOverflow(t *testing.T) { // E6
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
		_, err := DecodeInt(msgpack.NewDecoder(bytes.NewReader(b)), tc.bits)
		if (err == nil) != tc.ok {
			t.Errorf("DecodeInt(%v, %d): err %v, want ok=%v", tc.v, tc.bits, err, tc.ok)
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
		_, err := DecodeUint(msgpack.NewDecoder(bytes.NewReader(b)), tc.bits)
		if (err == nil) != tc.ok {
			t.Errorf("DecodeUint(%v, %d): err %v, want ok=%v", tc.v, tc.bits, err, tc.ok)
		}
	}
}

func TestCookieParsingIsStrict(t *testing.T) { // A2, A5
	s := newSigner("__Host-session", [][]byte{bytes.Repeat([]byte("k"), 32)})
	id := newID()
	v := s.sign(id)
	if got, ok := s.verify(v); !ok || got != id {
		t.Fatalf("own signature rejected")
	}
	other := newSigner("other", [][]byte{bytes.Repeat([]byte("k"), 32)})
	if _, ok := other.verify(v); ok {
		t.Fatal("a value signed for another cookie name verified")
	}
	for _, bad := range []string{"", v[:len(v)-1], v + "A", strings.Replace(v, ".", "!", 1), v[:10] + "+" + v[11:], strings.ToUpper(v)} {
		if _, ok := s.verify(bad); ok {
			t.Errorf("verified %q", bad)
		}
	}
}

func TestIDsAreUniqueAndLong(t *testing.T) { // A1
	n := 1_000_000
	if testing.Short() {
		n = 10_000
	}
	seen := make(map[string]bool, n)
	for range n {
		id := newID()
		raw, err := b64.DecodeString(id)
		if err != nil || len(raw) != 32 || seen[id] {
			t.Fatalf("id %q: %d bytes, err %v, dup %v", id, len(raw), err, seen[id])
		}
		seen[id] = true
	}
}

func FuzzCheckRecord(f *testing.F) {
	for _, body := range hostile {
		if len(body) < 64<<10 { // the 1 MB seed stays in the unit test: it bloats the fuzzer's shared memory
			f.Add(append(appendHeader(nil, header{created: 1}), body...))
		}
	}
	f.Fuzz(func(t *testing.T, rec []byte) {
		var entries []entry
		_, _, err := checkRecord(rec, &entries)
		if err == nil && len(rec) == 0 {
			t.Fatal("accepted an empty record")
		}
	})
}

func FuzzVerifyCookie(f *testing.F) {
	s := newSigner("__Host-session", [][]byte{bytes.Repeat([]byte("k"), 32)})
	f.Add(s.sign(newID()))
	f.Add("garbage")
	f.Fuzz(func(t *testing.T, v string) {
		if id, ok := s.verify(v); ok && s.sign(id) != v {
			t.Fatalf("verified %q, which is not what we sign", v)
		}
	})
}

// panicky is a Data whose decoder panics, as a buggy custom decoder might.
type panicky struct{}

func (panicky) EncodeMsgpack(*msgpack.Encoder) error { return nil }
func (panicky) DecodeMsgpack(*msgpack.Decoder) error { panic("boom") }

func TestDecoderPanicIsACorruptRecord(t *testing.T) { // E11
	_, err := decodeRecord([]byte{recordV1, 0x00, 0x00, 0x00, 0x80}, panicky{})
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("err %v, want ErrCorrupt naming the panic", err)
	}
}

func TestHeaderTimestampsAreInt64(t *testing.T) { // C10
	for _, ts := range []int64{0, 1, -1, 1_800_000_000, math.MaxInt64, math.MinInt64} {
		rec := append(appendHeader(nil, header{created: ts}), 0x80)
		got, _, err := checkRecord(rec, nil)
		if err != nil || got.created != ts {
			t.Errorf("created %d came back as %d (%v)", ts, got.created, err)
		}
	}
}

func TestForwardRecords(t *testing.T) { // C7
	oldID, newIDv := newID(), newID()
	rec := forwardRecord(oldID, newIDv)
	if got, ok := forwardTarget(rec, oldID); !ok || got != newIDv {
		t.Fatalf("forwardTarget = %q, %v; want %q", got, ok, newIDv)
	}
	if got, _ := forwardTarget(rec, newID()); got == newIDv {
		t.Fatal("a forward opened with another ID gave the new ID")
	}
	if bytes.Contains(rec, []byte(newIDv)) || bytes.Contains(rec, []byte(storeKey(newIDv))) {
		t.Fatal("a forward record holds the new ID or its store key in the clear")
	}
	if _, ok := forwardTarget(append(appendHeader(nil, header{}), 0x80), oldID); ok {
		t.Fatal("an ordinary record read as a forward")
	}
}
