package runtime

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sessiongen/sessiongen/runtime/wire"
	"github.com/vmihailenco/msgpack/v5"
)

// The inputs that make msgpack v5.4.1 allocate gigabytes or spin
// , each behind a valid record header.
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

func TestCheckRecordRejectsHostileInput(t *testing.T) {
	for name, body := range hostile {
		// As the record's map itself, and as the value of a field.
		asMap := append(appendHeader(nil, header{created: 1}), body...)
		asValue := append(appendHeader(nil, header{created: 1}), 0x81, 0xa1, 'k')
		asValue = append(asValue, body...)
		for _, rec := range [][]byte{asMap, asValue} {
			if _, _, err := checkRecord(rec, nil); !errors.Is(err, errCorrupt) && name != "non-string key" {
				t.Errorf("%s: err %v, want errCorrupt", name, err)
			}
		}
		if _, _, err := checkRecord(asMap, nil); !errors.Is(err, errCorrupt) {
			t.Errorf("%s as the record map: err %v, want errCorrupt", name, err)
		}
	}
	for name, rec := range map[string][]byte{
		"empty":           nil,
		"unknown version": {0x02, 0x00, 0x00, 0x00, 0x80},
		"no map":          {0x01, 0x00, 0x00, 0x00},
		"no flags":        {0x01, 0x00},
		"no issued":       {0x01, 0x00, 0x00},
		"negative flags":  {0x01, 0x00, 0xff, 0x00, 0x80},
		"a forward":       forwardRecord(newID(), newID(), time.Now()),
		"too large":       append([]byte{0x01, 0x00, 0x00, 0x00, 0x80}, make([]byte, maxRecordSize)...),
	} {
		if _, _, err := checkRecord(rec, nil); !errors.Is(err, errCorrupt) {
			t.Errorf("%s: err %v, want errCorrupt", name, err)
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
	h, es, err := entries(buf.Bytes())
	if err != nil || h.created != -5 || len(es) != 4 {
		t.Fatalf("header %+v, %d entries, err %v", h, len(es), err)
	}
}

func TestCookieParsingIsStrict(t *testing.T) {
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

func TestIDsAreUniqueAndLong(t *testing.T) {
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
		_, es, err := entries(rec)
		if err == nil && len(rec) == 0 {
			t.Fatal("accepted an empty record")
		}
		for _, e := range es {
			if j, err := wire.Skip(e.Val, 0); err != nil || j != len(e.Val) {
				t.Fatalf("field %q: value % x is not one whole value", e.Key, e.Val)
			}
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

// panicky is a session whose one field's decoder panics, as a buggy
// custom decoder might.
type panicky struct{ rt wire.Handle }

func (p *panicky) EncodeMsgpack(enc *msgpack.Encoder) error {
	return p.rt.Encode(enc, &panickySchema, p)
}
func (p *panicky) DecodeMsgpack(dec *msgpack.Decoder) error {
	return p.rt.Decode(dec, &panickySchema, p)
}

var panickySchema = wire.Schema{
	Name:   "Panicky",
	Keys:   []string{"x"},
	Handle: func(d wire.Data) *wire.Handle { return &d.(*panicky).rt },
	Decode: func(wire.Data, []byte, int, int, []wire.Entry) (int, []wire.Entry, error) { panic("boom") },
	Append: func(_ wire.Data, b []byte, _ wire.Range) ([]byte, int, error) { return b, 0, nil },
}

func TestDecoderPanicIsACorruptRecord(t *testing.T) {
	m, err := NewManager[panicky](Config{Secrets: [][]byte{bytes.Repeat([]byte("k"), 32)}}, &panickySchema)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var logs bytes.Buffer
	m.log = slog.New(slog.NewTextHandler(&logs, nil))
	id := newID()
	rec := append(appendHeader(nil, header{created: time.Now().Unix()}), 0x81, 0xa1, 'x', 0x01)
	if _, err := m.store.Save(context.Background(), storeKey(id), rec, 0, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	var isNew bool
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.Context().Value(&panickySchema).(*panicky)
		p.rt.Lock()
		p.rt.Need(0)
		p.rt.Unlock()
		isNew = p.rt.IsNew()
	}))
	req := httptest.NewRequest("GET", "/", nil)
	req.AddCookie(&http.Cookie{Name: m.cookie.Name, Value: m.signer.sign(id)})
	rr := httptest.NewRecorder()
	h.ServeHTTP(rr, req)
	if rr.Code != http.StatusOK || !isNew {
		t.Fatalf("status %d, new session %v; want 200 with a new session", rr.Code, isNew)
	}
	if _, _, err := m.store.Load(context.Background(), storeKey(id)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the record is still stored (%v); want it deleted", err)
	}
	if m.Stats().Corrupt != 1 || strings.Count(logs.String(), "boom") != 1 {
		t.Fatalf("corrupt count %d, log %q; want 1 and one line naming the panic", m.Stats().Corrupt, logs.String())
	}
}

func TestHeaderTimestampsAreInt64(t *testing.T) {
	for _, ts := range []int64{0, 1, -1, 1_800_000_000, math.MaxInt64, math.MinInt64} {
		rec := append(appendHeader(nil, header{created: ts}), 0x80)
		got, _, err := checkRecord(rec, nil)
		if err != nil || got.created != ts {
			t.Errorf("created %d came back as %d (%v)", ts, got.created, err)
		}
	}
}

func TestForwardRecords(t *testing.T) {
	oldID, newIDv := newID(), newID()
	rec := forwardRecord(oldID, newIDv, time.Now())
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
