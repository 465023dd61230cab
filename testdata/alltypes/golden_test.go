package alltypes

import (
	"bytes"
	"context"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the current code")

// goldenValues are the sessions whose encodings are committed under
// testdata/golden. The files were written by the release before the codec
// moved into runtime/wire; they are the records users already have in
// their stores.
func goldenValues() map[string]allData {
	partial := allData{B: true, I8: -3, S: "hi", Strs: []string{"a"}, M: map[string]int{"b": 2, "a": 1}, Omit: "o"}
	edges := allData{
		I: 1<<63 - 1, I8: 127, I16: 1<<15 - 1, I32: 1<<31 - 1, I64: -1 << 63,
		U: 1<<64 - 1, U8: 0, U16: 256, U32: 1 << 16, U64: 1 << 32,
		F64: 1e-300, S: string(bytes.Repeat([]byte("s"), 300)),
		Raw: bytes.Repeat([]byte{0xff}, 70000), T: time.Unix(1<<34, 1).UTC(),
		Strs: []string{}, Ints: make([]int64, 20), M: map[string]int{},
		Nested: [][]string{nil}, Tr: Tree{nil},
	}
	return map[string]allData{"full": full(), "zero": {}, "partial": partial, "edges": edges}
}

func TestGoldenRecords(t *testing.T) {
	for name, want := range goldenValues() {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("testdata", "golden", name+".msgpack")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, encode(t, &All{data: want}), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			golden, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -run TestGoldenRecords -update once, on the release that wrote them)", err)
			}
			// Stored bytes read back as the value that wrote them...
			got := decode(t, golden).data
			assertSameData(t, got, want)
			// ...re-encode unchanged to the same bytes...
			if again := encode(t, &All{data: got}); !bytes.Equal(again, golden) {
				t.Errorf("decoding and re-encoding changed the record:\n got % x\nwant % x", head(again), head(golden))
			}
			// ...and the value still encodes to them.
			if enc := encode(t, &All{data: want}); !bytes.Equal(enc, golden) {
				t.Errorf("the value encodes differently from the stored record:\n got % x\nwant % x", head(enc), head(golden))
			}
			// msgpack/v5 stays the reference for what the bytes mean.
			dec := msgpack.NewDecoder(bytes.NewReader(golden))
			dec.SetMapDecoder(func(d *msgpack.Decoder) (any, error) { return d.DecodeUntypedMap() })
			if _, err := dec.DecodeInterface(); err != nil {
				t.Errorf("msgpack/v5 does not read the record: %v", err)
			}
		})
	}
}

// TestGoldenRecordsThroughTheMiddleware stores each golden record under a
// live session and reads it with the getters, as a request after an
// upgrade would; a request that sets one field writes the others back
// byte for byte.
func TestGoldenRecordsThroughTheMiddleware(t *testing.T) {
	for name, want := range goldenValues() {
		t.Run(name, func(t *testing.T) {
			golden, err := os.ReadFile(filepath.Join("testdata", "golden", name+".msgpack"))
			if err != nil {
				t.Fatal(err)
			}
			h := newRecordHarness(t)
			var got allData
			h.h = h.mgr.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				s := AllFrom(r.Context())
				if r.URL.Path == "/flag" {
					s.SetFl(!s.Fl())
					return
				}
				got = readAll(s)
			}))
			record := append(recordHeader(t), golden...)
			if code := h.serve(record); code != http.StatusOK {
				t.Fatalf("status %d", code)
			}
			assertSameData(t, got, want)

			req := httptest.NewRequest("GET", "/flag", nil)
			req.Header.Set("Cookie", h.cookie)
			h.h.ServeHTTP(httptest.NewRecorder(), req)
			rec, _, err := h.mem.Load(context.Background(), h.key)
			if err != nil {
				t.Fatal(err)
			}
			flipped := want
			flipped.Fl = !want.Fl
			if want := encode(t, &All{data: flipped}); !bytes.HasSuffix(rec, want) {
				t.Errorf("setting one field rewrote the others:\n got % x\nwant % x", head(rec), head(want))
			}
		})
	}
}

// recordHeader is the header of a record created now: format version,
// creation time, flags, issue time.
func recordHeader(t *testing.T) []byte {
	now, err := msgpack.Marshal(time.Now().Unix())
	if err != nil {
		t.Fatal(err)
	}
	h := append([]byte{0x01}, now...)
	return append(append(h, 0x00), now...)
}

// readAll reads every field of s through its getters.
func readAll(s *All) allData {
	var d allData
	dv := reflect.ValueOf(&d).Elem()
	sv := reflect.ValueOf(s)
	for _, f := range reflect.VisibleFields(dv.Type()) {
		if m := sv.MethodByName(f.Name); f.IsExported() && m.IsValid() && m.Type().NumIn() == 0 {
			dv.FieldByIndex(f.Index).Set(m.Call(nil)[0])
		}
	}
	return d
}

func assertSameData(t *testing.T, got, want allData) {
	t.Helper()
	if !got.T.Equal(want.T) {
		t.Errorf("T = %v, want %v", got.T, want.T)
	}
	got.T, want.T = time.Time{}, time.Time{}
	if !reflect.DeepEqual(got, want) {
		gv, wv := reflect.ValueOf(got), reflect.ValueOf(want)
		for i := range gv.NumField() {
			if g, w := gv.Field(i), wv.Field(i); g.CanInterface() && !reflect.DeepEqual(g.Interface(), w.Interface()) {
				t.Errorf("field %s read back as %.80v, want %.80v", gv.Type().Field(i).Name, g.Interface(), w.Interface())
			}
		}
	}
}

func head(b []byte) []byte { return b[:min(len(b), 96)] }
