package runtime_test

// What the middleware does when the store fails, stalls or holds garbage:
// a 503 that keeps the session, a read-back of unanswered writes, a fresh
// session for a corrupt record.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessiongen/sessiongen/runtime"
)

func TestStoreOutageIs503AndKeepsTheSession(t *testing.T) {
	mem := runtime.NewMemoryStore()
	defer mem.Close()
	fs := &failingStore{Store: mem}
	e := newEnv(t, runtime.Config{Store: fs}, routes)
	e.get("/login")
	fs.down.Store(true)
	for _, path := range []string{"/whoami", "/flash", "/logout", "/incr"} {
		resp, _ := e.get(path)
		if resp.StatusCode != http.StatusServiceUnavailable || len(resp.Header["Set-Cookie"]) != 0 {
			t.Errorf("%s during outage: status %d, Set-Cookie %q; want 503 and no cookie", path, resp.StatusCode, resp.Header["Set-Cookie"])
		}
	}
	fs.down.Store(false)
	if _, body := e.get("/whoami"); body != "42 ada@example.com new=false" {
		t.Fatalf("after the outage: %q, want the session intact", body)
	}
	if !strings.Contains(e.logs.String(), "session store unavailable; nothing was saved") {
		t.Errorf("no log line for the outage: %q", e.logs.String())
	}
}

// unansweredStore applies (or not) the next writes and then answers
// ErrOutcomeUnknown, as a store that timed out waiting for the answer.
type unansweredStore struct {
	runtime.Store
	writes   atomic.Int64 // the next this many writes go unanswered
	apply    bool         // whether an unanswered write is applied
	thenDown atomic.Bool  // after an unanswered write, loads fail too
	down     atomic.Bool
}

func (s *unansweredStore) Save(ctx context.Context, key string, rec []byte, v uint64, exp time.Time) (uint64, error) {
	if s.writes.Add(-1) < 0 {
		return s.Store.Save(ctx, key, rec, v, exp)
	}
	if s.apply {
		if _, err := s.Store.Save(ctx, key, rec, v, exp); err != nil {
			return 0, err
		}
	}
	s.down.Store(s.thenDown.Load())
	return 0, fmt.Errorf("fake: %w", runtime.ErrOutcomeUnknown)
}

func (s *unansweredStore) Load(ctx context.Context, key string) ([]byte, uint64, error) {
	if s.down.Load() {
		return nil, 0, runtime.ErrUnavailable
	}
	return s.Store.Load(ctx, key)
}

// TestUnansweredWritesAreReadBack: a create or compare-and-swap that the
// store applied but did not answer is a success; one it did not apply is
// made again; when the store does not answer the read-back either, the
// 503 and the log say that the outcome is unknown.
func TestUnansweredWritesAreReadBack(t *testing.T) {
	for _, apply := range []bool{true, false} {
		mem := runtime.NewMemoryStore()
		defer mem.Close()
		us := &unansweredStore{Store: mem, apply: apply}
		e := newEnv(t, runtime.Config{Store: us}, routes)
		us.writes.Store(1)
		if resp, _ := e.get("/login"); resp.StatusCode != 200 || sessionCookie(resp) == nil {
			t.Fatalf("apply=%v: unanswered create answered %d, cookie %v", apply, resp.StatusCode, sessionCookie(resp))
		}
		us.writes.Store(1)
		if resp, body := e.get("/incr"); resp.StatusCode != 200 || body != "1" {
			t.Fatalf("apply=%v: unanswered compare-and-swap answered %d %q", apply, resp.StatusCode, body)
		}
		if _, body := e.get("/incr"); body != "2" {
			t.Fatalf("apply=%v: second increment reads %q, want 2: the first was written exactly once", apply, body)
		}
		if got := e.mgr.Stats().Settled; got != 2 {
			t.Fatalf("apply=%v: Stats().Settled = %d after 2 unanswered writes, want 2", apply, got)
		}

		us.writes.Store(1)
		us.thenDown.Store(true)
		resp, body := e.get("/incr")
		us.down.Store(false)
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "may or may not have been saved") {
			t.Fatalf("apply=%v: unsettled write answered %d %q, want 503 saying the outcome is unknown", apply, resp.StatusCode, body)
		}
		if !strings.Contains(e.logs.String(), "outcome unknown") {
			t.Fatalf("apply=%v: the log does not say the outcome is unknown: %s", apply, e.logs.String())
		}
		want := map[bool]string{true: "4", false: "3"}[apply] // the unsettled increment was or was not applied
		if _, body := e.get("/incr"); body != want {
			t.Fatalf("apply=%v: after the unsettled write the counter reads %q, want %s", apply, body, want)
		}
	}
}

// touchFailingStore fails every Touch.
type touchFailingStore struct{ runtime.Store }

func (touchFailingStore) Touch(context.Context, string, time.Time) error {
	return runtime.ErrUnavailable
}

func TestFailedTouchDoesNotFailTheRequest(t *testing.T) {
	mem := runtime.NewMemoryStore()
	defer mem.Close()
	e := newEnv(t, runtime.Config{Store: touchFailingStore{mem}}, map[string]func(http.ResponseWriter, *http.Request, *visit){
		"/login": routes["/login"],
		"/touch": func(w http.ResponseWriter, r *http.Request, v *visit) { v.Touch(); fmt.Fprint(w, v.UserID()) },
	})
	e.get("/login")
	resp, body := e.get("/touch")
	if resp.StatusCode != 200 || body != "42" || !strings.Contains(e.logs.String(), "idle deadline") {
		t.Fatalf("status %d body %q, log %q: want 200, the session, and a log line", resp.StatusCode, body, e.logs.String())
	}
}

func TestCustomErrorHandler(t *testing.T) {
	mem := runtime.NewMemoryStore()
	defer mem.Close()
	fs := &failingStore{Store: mem}
	var got error
	e := newEnv(t, runtime.Config{Store: fs, ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
		got = err
		http.Error(w, "try later", http.StatusTeapot)
	}}, routes)
	e.get("/login")
	fs.down.Store(true)
	resp, body := e.get("/whoami")
	if resp.StatusCode != http.StatusTeapot || body != "try later" || !errors.Is(got, runtime.ErrUnavailable) {
		t.Fatalf("status %d body %q err %v", resp.StatusCode, body, got)
	}
}

func TestCorruptRecordIsAFreshSession(t *testing.T) {
	e := newEnv(t, runtime.Config{}, routes)
	resp, _ := e.get("/login")
	id, _, _ := strings.Cut(sessionCookie(resp).Value, ".")
	key := runtime.StoreKey(id)
	ctx := context.Background()
	garbage := [][]byte{
		{0x01, 0x00, 0x00, 0x00, 0xdd, 0xff, 0xff, 0xff, 0xff},    // array32 header claiming 4G elements
		{0x01, 0x00, 0x00, 0x00, 0x81, 0xa3, 'u', 'i', 'd', 0xc1}, // invalid code
		{0x09},
		[]byte("random bytes, not msgpack"),
	}
	for i, g := range garbage {
		if err := e.mem.Delete(ctx, key); err != nil {
			t.Fatal(err)
		}
		if _, err := e.mem.Save(ctx, key, g, 0, time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		resp, body := e.do(e.bare(), "/whoami", sessionCookie(resp))
		if resp.StatusCode != 200 || body != "0  new=true" {
			t.Fatalf("garbage %d: status %d body %q", i, resp.StatusCode, body)
		}
		if _, _, err := e.mem.Load(ctx, key); !errors.Is(err, runtime.ErrNotFound) {
			t.Fatalf("garbage %d: corrupt record not deleted (err %v)", i, err)
		}
	}
	if !strings.Contains(e.logs.String(), "unreadable session record") {
		t.Fatalf("no log line for corrupt records")
	}
	if strings.Contains(e.logs.String(), id) {
		t.Fatalf("a log line holds the raw session ID")
	}
}

// TestErrorResponsesAreNotCached: the error handler's answer carries
// Cache-Control: no-store even when the handler had marked its own
// response public before the session failed to save.
func TestErrorResponsesAreNotCached(t *testing.T) {
	mem := runtime.NewMemoryStore()
	defer mem.Close()
	fs := &failingStore{Store: mem}
	e := newEnv(t, runtime.Config{Store: fs}, map[string]func(http.ResponseWriter, *http.Request, *visit){
		"/public": func(w http.ResponseWriter, r *http.Request, v *visit) {
			v.SetEmail("ada@example.com")
			w.Header().Set("Cache-Control", "public, max-age=3600")
			w.Write([]byte("cacheable"))
		},
	})
	fs.down.Store(true)
	resp, _ := e.get("/public")
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("status %d, Cache-Control %q; want 503 and no-store", resp.StatusCode, resp.Header.Get("Cache-Control"))
	}
}

// TestRecordSizeLimitHoldsOnWrites: a session grown past the 1 MiB a load
// accepts is refused when it is saved (a 500 naming the field), and the
// record stored before is left as it was; before, the store took it and
// the next load deleted it as corrupt, logging the user out.
func TestRecordSizeLimitHoldsOnWrites(t *testing.T) {
	e := newEnv(t, runtime.Config{}, map[string]func(http.ResponseWriter, *http.Request, *visit){
		"/login": func(w http.ResponseWriter, r *http.Request, v *visit) { v.SetEmail("ada@example.com") },
		"/huge":  func(w http.ResponseWriter, r *http.Request, v *visit) { v.SetEmail(strings.Repeat("x", 2<<20)) },
		"/whoami": func(w http.ResponseWriter, r *http.Request, v *visit) {
			w.Write([]byte(v.Email()))
		},
	})
	e.get("/login")
	resp, _ := e.get("/huge")
	if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(e.logs.String(), `largest fields: \"email\"`) {
		t.Fatalf("a 2 MiB session: status %d, log %q; want 500 naming the field", resp.StatusCode, e.logs.String())
	}
	if _, body := e.get("/whoami"); body != "ada@example.com" {
		t.Fatalf("after the refused save: %.40q, want the session as it was", body)
	}
}
