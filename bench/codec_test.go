package bench

import (
	"bytes"
	"encoding/gob"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/wire"
	"github.com/vmihailenco/msgpack/v5"
)

func sample() Workload {
	return Workload{
		UserID: 42, Email: "ada@example.com", Roles: []string{"admin", "staff"},
		CSRFToken: "b3f1c2d4e5a697887766554433221100", Flash: "",
		Cart:     []CartItem{{"tea", 2, 350}, {"mug", 1, 1200}, {"pot", 1, 4500}},
		LastSeen: time.Unix(1_800_000_000, 0), Prefs: map[string]string{"lang": "en", "theme": "dark", "tz": "UTC"},
		LoggedIn: true,
	}
}

// fill sets a generated session to the workload.
func fill(v *Visit) {
	w := sample()
	v.SetUserID(w.UserID)
	v.SetEmail(w.Email)
	v.SetRoles(w.Roles)
	v.SetCSRFToken(w.CSRFToken)
	v.SetCart(w.Cart)
	v.SetLastSeen(w.LastSeen)
	v.SetPrefs(w.Prefs)
	v.SetLoggedIn(w.LoggedIn)
}

// filledVisit returns a generated session holding the workload, made
// through the middleware (its runtime state needs a manager).
func filledVisit(tb testing.TB) *Visit {
	mgr, err := NewVisitManager(runtime.Config{Secrets: [][]byte{secret}})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { mgr.Close() })
	var v *Visit
	mgr.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v = VisitFrom(r.Context())
		fill(v)
	})).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	return v
}

// BenchmarkCodec encodes and decodes the workload with each codec; the
// "bytes" metric is the encoded size.
func BenchmarkCodec(b *testing.B) {
	w := sample()
	v := filledVisit(b) // first: every codec runs beside the same heap
	gob.Register(Workload{})
	b.Run("gob/encode", func(b *testing.B) { // a fresh encoder each time, as scs does
		var buf bytes.Buffer
		b.ReportAllocs()
		for range b.N {
			buf.Reset()
			if err := gob.NewEncoder(&buf).Encode(&w); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(buf.Len()), "bytes")
	})
	var gobbed bytes.Buffer
	gob.NewEncoder(&gobbed).Encode(&w)
	b.Run("gob/decode", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			var out Workload
			if err := gob.NewDecoder(bytes.NewReader(gobbed.Bytes())).Decode(&out); err != nil {
				b.Fatal(err)
			}
		}
	})
	jsoned, _ := json.Marshal(&w)
	b.Run("json/encode", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if _, err := json.Marshal(&w); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(jsoned)), "bytes")
	})
	b.Run("json/decode", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			var out Workload
			if err := json.Unmarshal(jsoned, &out); err != nil {
				b.Fatal(err)
			}
		}
	})
	packed, _ := msgpack.Marshal(&w)
	b.Run("msgpack-reflect/encode", func(b *testing.B) {
		var buf bytes.Buffer
		enc := msgpack.NewEncoder(&buf)
		b.ReportAllocs()
		for range b.N {
			buf.Reset()
			if err := enc.Encode(&w); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(packed)), "bytes")
	})
	b.Run("msgpack-reflect/decode", func(b *testing.B) {
		dec := msgpack.NewDecoder(bytes.NewReader(nil))
		b.ReportAllocs()
		for range b.N {
			var out Workload
			dec.Reset(bytes.NewReader(packed))
			if err := dec.Decode(&out); err != nil {
				b.Fatal(err)
			}
		}
	})
	msgpd, _ := w.MarshalMsg(nil)
	b.Run("msgp/encode", func(b *testing.B) {
		buf := make([]byte, 0, 512)
		b.ReportAllocs()
		for range b.N {
			var err error
			if buf, err = w.MarshalMsg(buf[:0]); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(msgpd)), "bytes")
	})
	b.Run("msgp/decode", func(b *testing.B) {
		// Into a value on the heap, reset each time, as sessiongen's are: a
		// value on the stack would spare msgp the write barriers.
		out := new(Workload)
		b.ReportAllocs()
		for range b.N {
			*out = Workload{}
			if _, err := out.UnmarshalMsg(msgpd); err != nil {
				b.Fatal(err)
			}
		}
	})
	var sgBuf bytes.Buffer
	v.EncodeMsgpack(msgpack.NewEncoder(&sgBuf))
	sg := bytes.Clone(sgBuf.Bytes())
	b.Run("sessiongen/encode", func(b *testing.B) {
		var buf bytes.Buffer
		enc := msgpack.NewEncoder(&buf)
		b.ReportAllocs()
		for range b.N {
			buf.Reset()
			enc.Reset(&buf)
			if err := v.EncodeMsgpack(enc); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(sg)), "bytes")
	})
	// The codec proper, as the runtime runs it on a save and a load: the
	// same work as msgp's MarshalMsg and UnmarshalMsg, into and out of a
	// byte slice (the generated table's Append and Decode, under a map
	// header).
	b.Run("sessiongen/append", func(b *testing.B) {
		buf := make([]byte, 0, 512)
		var out []byte
		b.ReportAllocs()
		for range b.N {
			var err error
			// One byte for the map header, written once the count is
			// known: Visit has fewer than 16 keys, a fixmap.
			var k int
			if out, k, err = visitSchema.Append(v, append(buf[:0], 0), wire.Range{To: len(visitSchema.Keys)}); err != nil {
				b.Fatal(err)
			}
			wire.AppendMapLen(out[:0], k)
		}
		if !bytes.Equal(out, sg) {
			b.Fatalf("append wrote %x, EncodeMsgpack %x", out, sg)
		}
		b.ReportMetric(float64(len(out)), "bytes")
	})
	b.Run("sessiongen/decodebytes", func(b *testing.B) {
		out := new(Visit)
		b.ReportAllocs()
		for range b.N {
			out.data = visitData{}
			n, i, err := wire.ReadMapLen(sg, 0)
			if err == nil {
				_, _, err = visitSchema.Decode(out, sg, i, n, nil)
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	// DecodeMsgpack as an outside caller runs it, from a msgpack.Decoder
	// over a bytes.Reader: the value is copied out first.
	b.Run("sessiongen/decoder", func(b *testing.B) {
		var rd bytes.Reader
		dec := msgpack.NewDecoder(&rd)
		out := new(Visit)
		b.ReportAllocs()
		for range b.N {
			rd.Reset(sg)
			dec.Reset(&rd)
			if err := out.DecodeMsgpack(dec); err != nil {
				b.Fatal(err)
			}
		}
	})
}
