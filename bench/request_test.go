package bench

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/gob"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/gorilla/sessions"
	"github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/cookiestore"
)

var secret = bytes.Repeat([]byte("k"), 32)

// A library under test: a middleware-wrapped handler per scenario, and
// the cookie of a session holding the workload.
type library struct {
	wrap  func(http.Handler) http.Handler
	login func(w http.ResponseWriter, r *http.Request, full bool) // set the workload (full) or PERF's D fields
	read  func(w http.ResponseWriter, r *http.Request)            // A: read UserID and Email
	got   func() (int64, string)                                  // what the last read saw
	write func(w http.ResponseWriter, r *http.Request, i int)     // B: set Flash
}

func libraries(tb testing.TB) map[string]library {
	gob.Register([]string{})
	gob.Register([]CartItem{})
	gob.Register(map[string]string{})
	gob.Register(time.Time{})
	var sinkInt int64
	var sinkStr string

	sm := scs.New() // memstore, gob codec
	sm.Cookie.Secure = true
	flashes := []string{"saved", "done"}
	scsLib := library{
		wrap: sm.LoadAndSave,
		login: func(w http.ResponseWriter, r *http.Request, full bool) {
			ctx, s := r.Context(), sample()
			sm.Put(ctx, "uid", s.UserID)
			sm.Put(ctx, "email", s.Email)
			sm.Put(ctx, "roles", s.Roles)
			if full {
				sm.Put(ctx, "csrf", s.CSRFToken)
				sm.Put(ctx, "cart", s.Cart)
				sm.Put(ctx, "seen", s.LastSeen)
				sm.Put(ctx, "prefs", s.Prefs)
				sm.Put(ctx, "in", s.LoggedIn)
			}
		},
		read: func(w http.ResponseWriter, r *http.Request) {
			sinkInt, sinkStr = sm.GetInt64(r.Context(), "uid"), sm.GetString(r.Context(), "email")
		},
		write: func(w http.ResponseWriter, r *http.Request, i int) { sm.Put(r.Context(), "flash", flashes[i%2]) },
	}

	gorilla := func(store sessions.Store) library {
		return library{
			wrap: func(h http.Handler) http.Handler { return h },
			login: func(w http.ResponseWriter, r *http.Request, full bool) {
				sess, _ := store.Get(r, "s")
				s := sample()
				sess.Values["uid"], sess.Values["email"], sess.Values["roles"] = s.UserID, s.Email, s.Roles
				if full {
					sess.Values["csrf"], sess.Values["cart"], sess.Values["seen"] = s.CSRFToken, s.Cart, s.LastSeen
					sess.Values["prefs"], sess.Values["in"] = s.Prefs, s.LoggedIn
				}
				if err := sess.Save(r, w); err != nil {
					tb.Fatal(err)
				}
			},
			read: func(w http.ResponseWriter, r *http.Request) {
				sess, _ := store.Get(r, "s")
				sinkInt, _ = sess.Values["uid"].(int64)
				sinkStr, _ = sess.Values["email"].(string)
			},
			write: func(w http.ResponseWriter, r *http.Request, i int) {
				sess, _ := store.Get(r, "s")
				sess.Values["flash"] = flashes[i%2]
				if err := sess.Save(r, w); err != nil {
					tb.Fatal(err)
				}
			},
		}
	}
	fs := sessions.NewFilesystemStore(tb.TempDir(), secret)
	fs.MaxLength(0)

	sessiongen := func(store runtime.Backend) library {
		mgr, err := NewVisitManager(runtime.Config{Store: store, Secrets: [][]byte{secret}})
		if err != nil {
			tb.Fatal(err)
		}
		return library{
			wrap: mgr.Middleware,
			login: func(w http.ResponseWriter, r *http.Request, full bool) {
				v := VisitFrom(r.Context())
				if full {
					fill(v)
					return
				}
				s := sample()
				v.SetUserID(s.UserID)
				v.SetEmail(s.Email)
				v.SetRoles(s.Roles)
			},
			read: func(w http.ResponseWriter, r *http.Request) {
				v := VisitFrom(r.Context())
				sinkInt, sinkStr = v.UserID(), v.Email()
			},
			write: func(w http.ResponseWriter, r *http.Request, i int) { VisitFrom(r.Context()).SetFlash(flashes[i%2]) },
		}
	}
	cookies, err := cookiestore.New()
	if err != nil {
		tb.Fatal(err)
	}
	sgLib, sgCookie := sessiongen(nil), sessiongen(cookies)
	got := func() (int64, string) { return sinkInt, sinkStr }
	scsLib.got, sgLib.got, sgCookie.got = got, got, got
	// gorilla's CookieStore signs only, unless given a second key: then it
	// encrypts (AES-CTR and HMAC), as sessiongen's cookie store always does.
	g1, g2, g3 := gorilla(sessions.NewCookieStore(secret)), gorilla(fs), gorilla(sessions.NewCookieStore(secret, secret[:32]))
	g1.got, g2.got, g3.got = got, got, got
	return map[string]library{
		"sessiongen-memory":     sgLib,
		"sessiongen-cookie":     sgCookie,
		"scs-memstore":          scsLib,
		"gorilla-cookie":        g1,
		"gorilla-cookie-sealed": g3,
		"gorilla-filesystem":    g2,
	}
}

// BenchmarkRequest runs the A-D scenarios (A read, B write, C anonymous, D login) through
// each library's
// middleware with httptest, and a bare handler as the reference.
func BenchmarkRequest(b *testing.B) {
	b.Run("bare", func(b *testing.B) {
		var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set("Cookie", "x=y")
		b.ReportAllocs()
		for range b.N {
			r := *req // a fresh request each time, as for the libraries
			h.ServeHTTP(httptest.NewRecorder(), &r)
		}
	})
	for name, lib := range libraries(b) {
		// A session holding the workload, and its cookies.
		rec := httptest.NewRecorder()
		lib.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { lib.login(w, r, true) })).
			ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		cookies := rec.Result().Cookies()
		if len(cookies) == 0 {
			b.Fatalf("%s: no cookie after login (status %d: %s)", name, rec.Code, rec.Body)
		}
		// An honest benchmark reads what it claims to read.
		check := httptest.NewRequest("GET", "/", nil)
		for _, c := range cookies {
			check.AddCookie(c)
		}
		lib.wrap(http.HandlerFunc(lib.read)).ServeHTTP(httptest.NewRecorder(), check)
		if uid, email := lib.got(); uid != 42 || email != "ada@example.com" {
			b.Fatalf("%s: A read %d %q, want the workload", name, uid, email)
		}
		run := func(scenario string, withCookie bool, h func(http.ResponseWriter, *http.Request, int)) {
			b.Run(scenario+"/"+name, func(b *testing.B) {
				i := 0
				handler := lib.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					h(w, r, i)
					w.WriteHeader(http.StatusNoContent)
				}))
				req := httptest.NewRequest("GET", "/", nil)
				if withCookie {
					for _, c := range cookies {
						req.AddCookie(c)
					}
				}
				b.ReportAllocs()
				for i = 0; i < b.N; i++ {
					// A fresh request each time: gorilla/sessions caches the
					// decoded session in the request it is given.
					r := *req
					handler.ServeHTTP(httptest.NewRecorder(), &r)
				}
			})
		}
		run("A-read", true, func(w http.ResponseWriter, r *http.Request, _ int) { lib.read(w, r) })
		run("B-write", true, lib.write)
		run("C-anonymous", false, func(http.ResponseWriter, *http.Request, int) {})
		run("D-login", false, func(w http.ResponseWriter, r *http.Request, _ int) { lib.login(w, r, false) })
	}
}

// BenchmarkCookieBytes seals the workload session into cookies, each
// iteration, and reports their bytes (names and values): sessiongen's
// sealed cookie against gorilla's CookieStore, signed and sealed, and
// against the workload as JSON sealed with AES-256-GCM.
func BenchmarkCookieBytes(b *testing.B) {
	libs := libraries(b)
	for _, name := range []string{"sessiongen-cookie", "gorilla-cookie", "gorilla-cookie-sealed"} {
		lib := libs[name]
		h := lib.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { lib.login(w, r, true) }))
		b.Run(name, func(b *testing.B) {
			size := 0
			for range b.N {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
				size = 0
				for _, c := range rec.Result().Cookies() {
					size += len(c.Name) + 1 + len(c.Value)
				}
			}
			b.ReportMetric(float64(size), "cookie-bytes")
		})
	}
	b.Run("json-aes-gcm", func(b *testing.B) {
		block, err := aes.NewCipher(secret)
		if err != nil {
			b.Fatal(err)
		}
		gcm, _ := cipher.NewGCM(block)
		size := 0
		for range b.N {
			plain, err := json.Marshal(sample())
			if err != nil {
				b.Fatal(err)
			}
			nonce := make([]byte, gcm.NonceSize())
			rand.Read(nonce)
			size = len("s=") + base64.RawURLEncoding.EncodedLen(len(nonce)+len(plain)+gcm.Overhead())
			_ = gcm.Seal(nonce, nonce, plain, nil)
		}
		b.ReportMetric(float64(size), "cookie-bytes")
	})
}
