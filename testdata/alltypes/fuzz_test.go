package alltypes

import (
	"bytes"
	"context"
	"encoding/binary"
	"net/http"
	"net/http/httptest"
	"reflect"
	goruntime "runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessiongen/sessiongen/runtime"
	"github.com/vmihailenco/msgpack/v5"
)

// keyRecorder remembers the key of the last record saved.
type keyRecorder struct {
	runtime.Store
	key atomic.Value
}

func (s *keyRecorder) Save(ctx context.Context, key string, rec []byte, v uint64, exp time.Time) (uint64, error) {
	s.key.Store(key)
	return s.Store.Save(ctx, key, rec, v, exp)
}

// recordHarness serves an All session whose stored record a test replaces.
type recordHarness struct {
	mem    *runtime.MemoryStore
	mgr    *AllManager
	key    string
	cookie string
	h      http.Handler
}

func newRecordHarness(tb testing.TB) *recordHarness {
	mem := runtime.NewMemoryStore()
	tb.Cleanup(func() { mem.Close() })
	store := &keyRecorder{Store: mem}
	mgr, err := NewAllManager(runtime.Config{Store: store, Secrets: [][]byte{bytes.Repeat([]byte("f"), 32)}})
	if err != nil {
		tb.Fatal(err)
	}
	h := mgr.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := AllFrom(r.Context())
		if r.URL.Path == "/set" {
			s.SetS("x")
			return
		}
		// Read every field: fields are decoded on first use, so a field
		// no getter reads is never decoded.
		v := reflect.ValueOf(s)
		for _, f := range reflect.VisibleFields(reflect.TypeOf(allData{})) {
			if m := v.MethodByName(f.Name); m.IsValid() && m.Type().NumIn() == 0 {
				m.Call(nil)
			}
		}
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/set", nil))
	c := rec.Result().Cookies()[0]
	return &recordHarness{mem: mem, mgr: mgr, key: store.key.Load().(string), cookie: c.Name + "=" + c.Value, h: h}
}

// serve stores record under the session's key and serves a request that
// reads the session. It returns the status.
func (r *recordHarness) serve(record []byte) int {
	ctx := context.Background()
	r.mem.Delete(ctx, r.key)
	r.mem.Save(ctx, r.key, record, 0, time.Now().Add(time.Hour))
	req := httptest.NewRequest("GET", "/read", nil)
	req.Header.Set("Cookie", r.cookie)
	rec := httptest.NewRecorder()
	r.h.ServeHTTP(rec, req)
	return rec.Code
}

// FuzzDecodeRecord stores arbitrary bytes as the record of a session with
// a field of every supported kind: a request that reads it never panics
// and always answers 200 (the record decodes, or is dropped for a fresh
// session). Its seeds, in testdata/fuzz/FuzzDecodeRecord, include the
// inputs that make msgpack v5.4.1 allocate gigabytes.
func FuzzDecodeRecord(f *testing.F) {
	h := newRecordHarness(f)
	f.Add(encodeRecordForTest(f, full()))
	// An allocation bomb within the size limit, in a live record: As, a
	// []Address, claims 200,000 elements, each a nil (a zero Address):
	// megabytes of memory from 200 KB of record, which ReadSliceLen refuses.
	now := binary.BigEndian.AppendUint64(nil, uint64(time.Now().Unix()))
	bomb := append(append(append(append([]byte{0x01, 0xd3}, now...), 0x00, 0xd3), now...), 0x81, 0xa2, 'A', 's', 0xdd, 0x00, 0x03, 0x0d, 0x40)
	f.Add(append(bomb, bytes.Repeat([]byte{0xc0}, 200_000)...))
	f.Fuzz(func(t *testing.T, record []byte) {
		if code := h.serve(record); code != 200 {
			t.Fatalf("status %d for record %x", code, record)
		}
	})
}

// FuzzDecodeMsgpack decodes arbitrary bytes with the generated
// DecodeMsgpack, every field's decoder at once: an error or a value,
// never a panic. What decodes must encode, and decode again to the same
// encoding (encoding is deterministic: the in-place change detection
// relies on it).
func FuzzDecodeMsgpack(f *testing.F) {
	f.Add(encodeRecordForTest(f, full())[4:])
	for _, body := range e3Seeds() {
		if len(body) < 64<<10 {
			f.Add(body)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s := new(All)
		if err := s.DecodeMsgpack(msgpack.NewDecoder(bytes.NewReader(b))); err != nil {
			return
		}
		encode := func(s *All) []byte {
			var buf bytes.Buffer
			if err := s.EncodeMsgpack(msgpack.NewEncoder(&buf)); err != nil {
				t.Fatalf("decoded % x, but cannot encode it: %v", b, err)
			}
			return buf.Bytes()
		}
		once := encode(s)
		again := new(All)
		if err := again.DecodeMsgpack(msgpack.NewDecoder(bytes.NewReader(once))); err != nil {
			t.Fatalf("% x re-encoded as % x, which does not decode: %v", b, once, err)
		}
		if twice := encode(again); !bytes.Equal(once, twice) {
			t.Fatalf("% x encodes as % x, then as % x", b, once, twice)
		}
	})
}

// TestHostileRecordsAllocateLittle runs each seed of FuzzDecodeRecord
// and checks that none allocates 64 MiB or more.
func TestHostileRecordsAllocateLittle(t *testing.T) {
	h := newRecordHarness(t)
	for name, body := range e3Seeds() {
		var before, after goruntime.MemStats
		goruntime.ReadMemStats(&before)
		code := h.serve(append([]byte{0x01, 0x00, 0x00, 0x00}, body...))
		goruntime.ReadMemStats(&after)
		if alloc := after.TotalAlloc - before.TotalAlloc; code != 200 || alloc >= 64<<20 {
			t.Errorf("%s: status %d, %d bytes allocated", name, code, alloc)
		}
	}
}

// e3Seeds are inputs that make msgpack/v5 allocate gigabytes or spin, as
// record bodies.
func e3Seeds() map[string][]byte {
	nested := bytes.Repeat([]byte{0xdc, 0xff, 0xff}, 2000)
	return map[string][]byte{
		"dd ffffffff into []int64":   append([]byte{0x81, 0xa4, 'I', 'n', 't', 's'}, 0xdd, 0xff, 0xff, 0xff, 0xff),
		"c6 ffffffff into []byte":    append([]byte{0x81, 0xa3, 'R', 'a', 'w'}, 0xc6, 0xff, 0xff, 0xff, 0xff),
		"df ffffffff as the record":  {0xdf, 0xff, 0xff, 0xff, 0xff},
		"map32 into a typed map":     append([]byte{0x81, 0xa1, 'M'}, 0xdf, 0x00, 0xff, 0xff, 0xff, 0xa1, 'a', 0x01),
		"2000 nested array16 65535":  append([]byte{0x81, 0xa6, 'N', 'e', 's', 't', 'e', 'd'}, nested...),
		"1 MB of nested 0x91":        append([]byte{0x81, 0xa4, 'S', 't', 'r', 's'}, bytes.Repeat([]byte{0x91}, 1<<20-16)...),
		"str32 of 4G into a string":  append([]byte{0x81, 0xa1, 'S'}, 0xdb, 0xff, 0xff, 0xff, 0xff),
		"uint64 2^63 into int64":     {0x81, 0xa3, 'I', '6', '4', 0xcf, 0x80, 0, 0, 0, 0, 0, 0, 0},
		"trailing bytes":             {0x80, 0x00},
		"deep pointer chain in List": append([]byte{0x81, 0xa4, 'L', 'i', 's', 't'}, bytes.Repeat([]byte{0x81, 0xa4, 'N', 'e', 'x', 't'}, 40)...),
	}
}

func encodeRecordForTest(tb testing.TB, d allData) []byte {
	var buf bytes.Buffer
	buf.Write([]byte{0x01, 0x00, 0x00, 0x00}) // version, created, flags, issued
	enc := newEncoder(&buf)
	s := &All{data: d}
	if err := s.EncodeMsgpack(enc); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}
