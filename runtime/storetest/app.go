package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessiongen/sessiongen/internal/testsession"
	"github.com/sessiongen/sessiongen/runtime"
)

// App is the one test application every scenario drives: the Scenario
// session type served over the middleware of a manager of its own, so a
// second App on the same store is a second process, or the application
// restarted. It counts the store operations its manager makes, keeps the
// store key of the last session record written, and what it logged.
//
// Routes. The lost-update races: /incr?i=N, /sum, /note?v=, /append?v=,
// /set-items?v=, /mixed, /tag?k=, /items, /bal?add=N[&save=1], /touch,
// /regen?v= (Regenerate and a change), /logout. The faults: /login?v=who,
// /read, /write?v=, /anon. The owners: /login?uid=&dev= (signs in and
// regenerates the ID), /me, /dev?dev=, /devices ("*" marks the current
// session), /logout-all.
type App struct {
	tb      testing.TB
	Mgr     *testsession.ScenarioManager
	h       http.Handler
	ops     *opCounter
	logs    syncBuffer
	lastKey atomic.Value // string
	// loaded, when set, runs inside the handlers that take part in
	// interleavings, after the load, for requests served by DoHeld.
	loaded func(r *http.Request)
}

// NewApp serves store through a new manager, closed when the test ends.
func NewApp(tb testing.TB, store runtime.Store) *App {
	return newApp(tb, runtime.Config{Store: store})
}

// newApp is NewApp with more of the configuration: its Store, and
// RenewAfter and RenewGrace.
func newApp(tb testing.TB, cfg runtime.Config) *App {
	a := &App{tb: tb}
	a.ops = &opCounter{Store: keyRecorder{cfg.Store.(runtime.Store), &a.lastKey}}
	cfg.Store = a.ops
	cfg.Secrets = [][]byte{bytes.Repeat([]byte("s"), 32)}
	cfg.Logger = slog.New(slog.NewTextHandler(&a.logs, nil))
	mgr, err := testsession.NewScenarioManager(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { mgr.Close() })
	a.Mgr = mgr
	mux := http.NewServeMux()
	mux.HandleFunc("/incr", func(w http.ResponseWriter, r *http.Request) {
		i, _ := strconv.Atoi(r.URL.Query().Get("i"))
		v := testsession.ScenarioFrom(r.Context())
		v.Sum() // load
		a.hook(r)
		v.Incr(i)
	})
	mux.HandleFunc("/sum", func(w http.ResponseWriter, r *http.Request) {
		v := testsession.ScenarioFrom(r.Context())
		fmt.Fprintf(w, "%d %d %s", v.Sum(), v.Balance(), v.Note())
	})
	mux.HandleFunc("/logout", func(w http.ResponseWriter, r *http.Request) {
		v := testsession.ScenarioFrom(r.Context())
		v.Note() // load
		a.hook(r)
		v.Destroy()
	})
	mux.HandleFunc("/touch", func(w http.ResponseWriter, r *http.Request) { // a read that moves the idle deadline
		v := testsession.ScenarioFrom(r.Context())
		v.Note() // load
		a.hook(r)
		v.Touch()
	})
	mux.HandleFunc("/regen", func(w http.ResponseWriter, r *http.Request) { // a login: a new ID, a change
		v := testsession.ScenarioFrom(r.Context())
		v.Note() // load
		a.hook(r)
		v.Regenerate()
		v.SetNote(r.URL.Query().Get("v"))
	})
	mux.HandleFunc("/note", func(w http.ResponseWriter, r *http.Request) {
		v := testsession.ScenarioFrom(r.Context())
		v.Note()
		a.hook(r)
		v.SetNote(r.URL.Query().Get("v"))
	})
	mux.HandleFunc("/append", func(w http.ResponseWriter, r *http.Request) {
		v := testsession.ScenarioFrom(r.Context())
		item := r.URL.Query().Get("v")
		v.Note() // load
		a.hook(r)
		v.UpdateItems(func(items *[]string) { *items = append(*items, item) })
	})
	mux.HandleFunc("/set-items", func(w http.ResponseWriter, r *http.Request) {
		v := testsession.ScenarioFrom(r.Context())
		v.Note() // load
		a.hook(r)
		v.SetItems(strings.Split(r.URL.Query().Get("v"), ","))
	})
	mux.HandleFunc("/mixed", func(w http.ResponseWriter, r *http.Request) { // a setter, then an update: both, in order
		v := testsession.ScenarioFrom(r.Context())
		v.Note()
		a.hook(r)
		v.SetItems([]string{"set"})
		v.UpdateItems(func(items *[]string) { *items = append(*items, "then-updated") })
	})
	mux.HandleFunc("/tag", func(w http.ResponseWriter, r *http.Request) {
		v := testsession.ScenarioFrom(r.Context())
		k := r.URL.Query().Get("k")
		v.Note()
		a.hook(r)
		v.UpdateTags(func(m *map[string]int) {
			if *m == nil {
				*m = map[string]int{}
			}
			(*m)[k]++
		})
	})
	mux.HandleFunc("/items", func(w http.ResponseWriter, r *http.Request) {
		v := testsession.ScenarioFrom(r.Context())
		tags := slices.Sorted(maps.Keys(v.Tags()))
		fmt.Fprintf(w, "%s|%s", strings.Join(v.Items(), ","), strings.Join(tags, ","))
	})
	mux.HandleFunc("/bal", func(w http.ResponseWriter, r *http.Request) {
		add, _ := strconv.ParseInt(r.URL.Query().Get("add"), 10, 64)
		v := testsession.ScenarioFrom(r.Context())
		b := v.Balance()
		a.hook(r)
		v.SetBalance(b + add)
		if r.URL.Query().Get("save") == "1" {
			if err := v.Save(r.Context()); err != nil {
				var fc *runtime.FieldConflictError
				if errors.As(err, &fc) {
					v.Reload(r.Context()) // drop the conflicting change before answering
					http.Error(w, "conflict on "+fc.Key, http.StatusConflict)
					return
				}
				http.Error(w, err.Error(), 500)
			}
		}
	})

	mux.HandleFunc("/read", func(w http.ResponseWriter, r *http.Request) {
		v := testsession.ScenarioFrom(r.Context())
		fmt.Fprintf(w, "%s|%s|new=%v", v.Email(), v.Flash(), v.IsNew())
	})
	mux.HandleFunc("/write", func(w http.ResponseWriter, r *http.Request) {
		testsession.ScenarioFrom(r.Context()).SetFlash(r.URL.Query().Get("v"))
	})
	mux.HandleFunc("/anon", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })

	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		a := testsession.ScenarioFrom(r.Context())
		q := r.URL.Query()
		if !q.Has("uid") { // a visitor signing in: the fault scenarios' workload
			a.SetEmail(q.Get("v"))
			a.SetRoles([]string{"admin"})
			return
		}
		uid, _ := strconv.ParseInt(q.Get("uid"), 10, 64) // a user on a device: the owner scenarios
		a.SetUserID(uid)
		a.SetDevice(q.Get("dev"))
		a.Regenerate()
	})
	mux.HandleFunc("/me", func(w http.ResponseWriter, r *http.Request) {
		a := testsession.ScenarioFrom(r.Context())
		fmt.Fprintf(w, "%d %s", a.UserID(), a.Device())
	})
	mux.HandleFunc("/twice", func(w http.ResponseWriter, r *http.Request) { // an explicit Save, then a change the end of the request saves
		v := testsession.ScenarioFrom(r.Context())
		v.Incr(0)
		if err := v.Save(r.Context()); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		v.Incr(1)
	})
	mux.HandleFunc("/dev", func(w http.ResponseWriter, r *http.Request) {
		testsession.ScenarioFrom(r.Context()).SetDevice(r.URL.Query().Get("dev"))
	})
	mux.HandleFunc("/devices", func(w http.ResponseWriter, r *http.Request) {
		list, err := mgr.Sessions(r.Context(), testsession.ScenarioFrom(r.Context()).UserID())
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		for _, s := range list {
			if s.Current {
				fmt.Fprint(w, "*")
			} else {
				fmt.Fprint(w, ".")
			}
		}
	})
	mux.HandleFunc("/logout-all", func(w http.ResponseWriter, r *http.Request) {
		if err := mgr.LogoutAll(r.Context(), testsession.ScenarioFrom(r.Context()).UserID()); err != nil {
			http.Error(w, err.Error(), 500)
		}
	})
	a.h = mgr.Middleware(mux)
	return a
}

func (a *App) hook(r *http.Request) {
	if a.loaded != nil && r.Header.Get("X-Hold") != "" {
		a.loaded(r)
	}
}

// Do serves one request and returns the recorder.
func (a *App) Do(path, cookie string) *httptest.ResponseRecorder { return a.serve(path, cookie, false) }

// DoHeld serves one request whose handler calls the loaded hook after the
// load.
func (a *App) DoHeld(path, cookie string) *httptest.ResponseRecorder {
	return a.serve(path, cookie, true)
}

func (a *App) serve(path, cookie string, hold bool) *httptest.ResponseRecorder {
	req := httptest.NewRequest("GET", path, nil)
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	if hold {
		req.Header.Set("X-Hold", "1")
	}
	rec := httptest.NewRecorder()
	a.h.ServeHTTP(rec, req)
	return rec
}

// Call serves one request that must answer 200 and returns its body and
// the cookie to send next (the new one, or the one sent).
func (a *App) Call(t testing.TB, path, cookie string) (string, string) {
	t.Helper()
	rec := a.Do(path, cookie)
	if rec.Code != 200 {
		t.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
	}
	if c := rec.Result().Cookies(); len(c) > 0 {
		cookie = c[0].Name + "=" + c[0].Value
	}
	return rec.Body.String(), cookie
}

// Start creates a session and returns its cookie. A store that timed out
// (a 503 on a loaded machine) is asked again, as a client would.
func (a *App) Start() string {
	for try := 1; ; try++ {
		rec := a.Do("/note?v=start", "")
		if c := rec.Result().Cookies(); len(c) == 1 {
			return c[0].Name + "=" + c[0].Value
		}
		if rec.Code != http.StatusServiceUnavailable || try == 3 {
			a.tb.Fatalf("no cookie: %d %s", rec.Code, rec.Body)
		}
	}
}

// Login creates a session whose email is who and returns its cookie and
// store key.
func (a *App) Login(who string) (cookie, key string) {
	a.tb.Helper()
	rec := a.Do("/login?v="+who, "")
	c := rec.Result().Cookies()
	if rec.Code != 200 || len(c) != 1 {
		a.tb.Fatalf("login: %d %v %s", rec.Code, c, rec.Body)
	}
	return c[0].Name + "=" + c[0].Value, a.lastKey.Load().(string)
}

// Logs returns what the manager logged.
func (a *App) Logs() string { return a.logs.String() }

// keyRecorder remembers the key of the last session record saved (not an
// owner's index).
type keyRecorder struct {
	runtime.Store
	last *atomic.Value
}

func (k keyRecorder) Save(ctx context.Context, key string, rec []byte, v uint64, exp time.Time) (uint64, error) {
	if !strings.HasPrefix(key, "owner-") {
		k.last.Store(key)
	}
	return k.Store.Save(ctx, key, rec, v, exp)
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
