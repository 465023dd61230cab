package runtime_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sessiongen/sessiongen/internal/storebench"
	"github.com/sessiongen/sessiongen/internal/testsession"
	"github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/internal/mp"
	"github.com/vmihailenco/msgpack/v5"
)

// The A-D scenarios (A: a read, B: a write, C: an anonymous visitor,
// D: a login) on the workload session, through the middleware with
// httptest, on the in-memory store. Subtract BenchmarkRequest/bare for the
// cost of sessions.

func fillWorkload(v *testsession.Visit) {
	v.SetUserID(42)
	v.SetEmail("ada@example.com")
	v.SetRoles([]string{"admin", "staff"})
	v.SetCSRFToken("b3f1c2d4e5a697887766554433221100")
	v.SetCart([]testsession.CartItem{
		{SKU: "tea", Qty: 2, PriceCents: 350},
		{SKU: "mug", Qty: 1, PriceCents: 1200},
		{SKU: "pot", Qty: 1, PriceCents: 4500},
	})
	v.SetLastSeen(time.Unix(1_800_000_000, 0))
	v.SetPrefs(map[string]string{"lang": "en", "theme": "dark", "tz": "UTC"})
	v.SetLoggedIn(true)
}

func benchScenario(b *testing.B, withCookie bool, handler func(*testsession.Visit, int)) {
	serve, done := scenario(b, withCookie, handler)
	defer done()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		serve(i)
	}
}

// scenario builds an A-D scenario: serve(i) serves one request, the
// handler getting i.
func scenario(tb testing.TB, withCookie bool, handler func(*testsession.Visit, int)) (serve func(int), done func()) {
	mgr, err := testsession.NewVisitManager(runtime.Config{Secrets: [][]byte{secretA}})
	if err != nil {
		tb.Fatal(err)
	}
	var cookie string
	if withCookie {
		setup := mgr.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fillWorkload(testsession.VisitFrom(r.Context()))
		}))
		rec := httptest.NewRecorder()
		setup.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		c := rec.Result().Cookies()[0]
		cookie = c.Name + "=" + c.Value
	}
	i := 0
	h := mgr.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handler(testsession.VisitFrom(r.Context()), i)
		w.WriteHeader(http.StatusNoContent)
	}))
	req := httptest.NewRequest("GET", "/", nil)
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	return func(n int) { i = n; h.ServeHTTP(httptest.NewRecorder(), req) }, func() { mgr.Close() }
}

var (
	sinkInt int64
	sinkStr string
	sinkAny any
)

func BenchmarkRequest(b *testing.B) {
	b.Run("bare", func(b *testing.B) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set("Cookie", "x=y")
		b.ReportAllocs()
		for range b.N {
			h.ServeHTTP(httptest.NewRecorder(), req)
		}
	})
	b.Run("A-read", func(b *testing.B) {
		benchScenario(b, true, func(v *testsession.Visit, _ int) { sinkInt = v.UserID(); sinkStr = v.Email() })
	})
	b.Run("B-write", func(b *testing.B) {
		flashes := []string{"saved", "done"}
		benchScenario(b, true, func(v *testsession.Visit, i int) { v.SetFlash(flashes[i%2]) })
	})
	b.Run("C-anonymous", func(b *testing.B) {
		benchScenario(b, false, func(*testsession.Visit, int) {})
	})
	b.Run("D-login", func(b *testing.B) {
		benchScenario(b, false, func(v *testsession.Visit, _ int) {
			v.SetUserID(42)
			v.SetEmail("ada@example.com")
			v.SetRoles([]string{"admin", "staff"})
		})
	})
	// B without the merge machinery (no turn-taking, a lost CAS race is an
	// error): the price of merging when there is no conflict.
	b.Run("B-write-nomerge", func(b *testing.B) {
		defer runtime.SetMerge(false)()
		flashes := []string{"saved", "done"}
		benchScenario(b, true, func(v *testsession.Visit, i int) { v.SetFlash(flashes[i%2]) })
	})
	// The in-place-change safeguard: A, but reading the two reference
	// fields (Cart, Prefs), which the save then compares with the record.
	b.Run("A-read-refs", func(b *testing.B) {
		benchScenario(b, true, func(v *testsession.Visit, _ int) { sinkAny = v.Cart(); sinkAny = v.Prefs() })
	})
}

func BenchmarkCodec(b *testing.B) {
	mgr, _ := testsession.NewVisitManager(runtime.Config{Secrets: [][]byte{secretA}})
	defer mgr.Close()
	var v *testsession.Visit
	mgr.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v = testsession.VisitFrom(r.Context())
		fillWorkload(v)
	})).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	if err := v.EncodeMsgpack(enc); err != nil {
		b.Fatal(err)
	}
	encoded := bytes.Clone(buf.Bytes())
	b.Run("encode", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(encoded)))
		for range b.N {
			buf.Reset()
			enc.Reset(&buf)
			if err := v.EncodeMsgpack(enc); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode", func(b *testing.B) {
		out := new(testsession.Visit)
		var rd mp.Reader
		dec := msgpack.NewDecoder(&rd)
		b.ReportAllocs()
		b.SetBytes(int64(len(encoded)))
		for range b.N {
			rd.Reset(encoded)
			dec.Reset(&rd)
			if err := out.DecodeMsgpack(dec); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkHook times A–D on the memory store through storebench, without
// and with a Config.OnEvent that counts: what a hook costs (D reports an
// event per request; A–C none).
func BenchmarkHook(b *testing.B) {
	mem := runtime.NewMemoryStore()
	defer mem.Close()
	b.Run("without", func(b *testing.B) { storebench.Run(b, mem) })
	b.Run("hooked", func(b *testing.B) { storebench.RunHooked(b, mem) })
}

// BenchmarkAtRest times A–D on the memory store without and with
// Config.EncryptAtRest.
func BenchmarkAtRest(b *testing.B) {
	mem := runtime.NewMemoryStore()
	defer mem.Close()
	b.Run("plain", func(b *testing.B) { storebench.Run(b, mem) })
	b.Run("sealed", func(b *testing.B) { storebench.RunSealed(b, mem) })
}
