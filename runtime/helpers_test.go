package runtime_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessiongen/sessiongen/internal/testsession"
	"github.com/sessiongen/sessiongen/runtime"
)

var (
	secretA = bytes.Repeat([]byte("a"), 32)
	secretB = bytes.Repeat([]byte("b"), 32)
)

// countingStore counts the calls made to the store it wraps.
type countingStore struct {
	runtime.Store
	loads, saves, touches, deletes atomic.Int64
}

func (s *countingStore) Load(ctx context.Context, key string) ([]byte, uint64, error) {
	s.loads.Add(1)
	return s.Store.Load(ctx, key)
}

func (s *countingStore) Save(ctx context.Context, key string, rec []byte, v uint64, exp time.Time) (uint64, error) {
	s.saves.Add(1)
	return s.Store.Save(ctx, key, rec, v, exp)
}

func (s *countingStore) Touch(ctx context.Context, key string, exp time.Time) error {
	s.touches.Add(1)
	return s.Store.Touch(ctx, key, exp)
}

func (s *countingStore) Delete(ctx context.Context, key string) error {
	s.deletes.Add(1)
	return s.Store.Delete(ctx, key)
}

func (s *countingStore) reset() {
	s.loads.Store(0)
	s.saves.Store(0)
	s.touches.Store(0)
	s.deletes.Store(0)
}

// failingStore fails every call while down is set.
type failingStore struct {
	runtime.Store
	down atomic.Bool
}

func (s *failingStore) Load(ctx context.Context, key string) ([]byte, uint64, error) {
	if s.down.Load() {
		return nil, 0, runtime.ErrUnavailable
	}
	return s.Store.Load(ctx, key)
}

func (s *failingStore) Save(ctx context.Context, key string, rec []byte, v uint64, exp time.Time) (uint64, error) {
	if s.down.Load() {
		return 0, runtime.ErrUnavailable
	}
	return s.Store.Save(ctx, key, rec, v, exp)
}

// env is a TLS test server with a manager, a counting memory store and a
// client with a cookie jar.
type env struct {
	t      testing.TB
	mgr    *testsession.VisitManager
	mem    *runtime.MemoryStore
	store  *countingStore
	srv    *httptest.Server
	client *http.Client
	logs   *syncBuffer
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

// newEnv serves mux behind a manager. cfg's Store, if nil, becomes a
// counting memory store.
func newEnv(t testing.TB, cfg runtime.Config, routes map[string]func(http.ResponseWriter, *http.Request, *testsession.Visit)) *env {
	t.Helper()
	e := &env{t: t, logs: new(syncBuffer)}
	if cfg.Store == nil {
		e.mem = runtime.NewMemoryStore()
		t.Cleanup(func() { e.mem.Close() })
		e.store = &countingStore{Store: e.mem}
		cfg.Store = e.store
	}
	if cfg.Secrets == nil {
		cfg.Secrets = [][]byte{secretA}
	}
	cfg.Logger = slog.New(slog.NewTextHandler(e.logs, nil))
	mgr, err := testsession.NewVisitManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.mgr = mgr
	mux := http.NewServeMux()
	for path, h := range routes {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			h(w, r, testsession.VisitFrom(r.Context()))
		})
	}
	e.srv = httptest.NewTLSServer(mgr.Middleware(mux))
	t.Cleanup(e.srv.Close)
	e.client = e.srv.Client()
	e.client.Jar, _ = cookiejar.New(nil)
	return e
}

// get requests path and returns the response and its body.
func (e *env) get(path string) (*http.Response, string) {
	e.t.Helper()
	return e.do(e.client, path, nil)
}

func (e *env) do(c *http.Client, path string, cookie *http.Cookie) (*http.Response, string) {
	e.t.Helper()
	req, err := http.NewRequest("GET", e.srv.URL+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if cookie != nil {
		req.AddCookie(cookie)
	}
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, strings.TrimSpace(string(body))
}

// bare returns a client without a cookie jar.
func (e *env) bare() *http.Client { return &http.Client{Transport: e.srv.Client().Transport} }

// sessionCookie returns the session cookie a response set, or nil.
func sessionCookie(resp *http.Response) *http.Cookie {
	for _, c := range resp.Cookies() {
		if strings.HasSuffix(c.Name, "session") {
			return c
		}
	}
	return nil
}

// newManagerErr returns the error of making a manager with cfg (secrets filled in).
func newManagerErr(cfg runtime.Config) (*testsession.VisitManager, error) {
	if cfg.Secrets == nil {
		cfg.Secrets = [][]byte{secretA}
	}
	return testsession.NewVisitManager(cfg)
}

// recorderFunc is a ResponseWriter that hands its body to f.
type recorderFunc func(body string)

func (f recorderFunc) Header() http.Header { return http.Header{} }
func (f recorderFunc) Write(b []byte) (int, error) {
	f(string(b))
	return len(b), nil
}
func (f recorderFunc) WriteHeader(int) {}

// reqWith is a request to path carrying cookie.
func reqWith(path string, c *http.Cookie) *http.Request {
	r := httptest.NewRequest("GET", path, nil)
	r.AddCookie(c)
	return r
}
