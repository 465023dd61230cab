package runtime

import (
	"context"
	"crypto/rand"

	"fmt"
	"github.com/vmihailenco/msgpack/v5"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Schema describes a generated session type to the runtime. Generated code
// builds it once, in its NewXManager.
type Schema struct {
	// Name is the generated type's name, used in log lines.
	Name string
	// Keys holds the wire key of every stored field, by field index.
	Keys []string
	// DecodeField decodes the one field stored under key into d, leaving
	// it zero and returning the error if the value does not fit. With it,
	// the runtime decodes fields lazily, on first use; without it, whole
	// records at load.
	DecodeField func(d Data, dec *msgpack.Decoder, key []byte) error
	// ConflictError lists the keys of fields tagged conflict=error: when
	// another request changed such a field since this one loaded the
	// session, and this one changed it too, the save fails with a
	// *FieldConflictError instead of the later write winning.
	ConflictError []string
}

// FieldConflictError reports that a field tagged conflict=error was
// changed by two overlapping requests. It matches ErrConflict with
// errors.Is. The handler can Reload and try again.
type FieldConflictError struct {
	Key string // the field's key
}

// Error names the field.
func (e *FieldConflictError) Error() string {
	return fmt.Sprintf("sessiongen: field %q was changed by another request since this one loaded the session", e.Key)
}

// Unwrap makes errors.Is(err, ErrConflict) hold.
func (e *FieldConflictError) Unwrap() error { return ErrConflict }

// Manager is the engine behind a generated session manager: it reads and
// signs cookies, loads and saves records, and runs the middleware. Users
// get one from a generated NewXManager function rather than NewManager.
type Manager struct {
	settings
	schema  Schema
	index   map[string]int // key → field index
	strict  bits           // fields tagged conflict=error
	signer  *signer
	touches *touchCache
	now     func() time.Time

	stats   counters
	logSalt [16]byte

	// saveTurns serialises the saves of one session within this process.
	saveTurns [1024]sync.Mutex
	merge     bool // false only in a benchmark: a lost CAS race is an error
}

// clockForNewManagers is time.Now but in tests of expiry.
var clockForNewManagers = time.Now

// mergeForNewManagers is true but in the benchmark that prices merging.
var mergeForNewManagers = true

// NewManager validates cfg and returns a manager for sessions described by
// schema. A bad configuration is an error here, never a misbehaviour later.
func NewManager(cfg Config, schema Schema) (*Manager, error) {
	s, err := cfg.settings()
	if err != nil {
		return nil, err
	}
	m := &Manager{
		settings: s,
		schema:   schema,
		index:    make(map[string]int, len(schema.Keys)),
		signer:   newSigner(s.cookie.Name, s.secrets),
		touches:  new(touchCache),
		now:      clockForNewManagers,
		merge:    mergeForNewManagers,
	}
	rand.Read(m.logSalt[:])
	for i, k := range schema.Keys {
		if _, dup := m.index[k]; dup {
			return nil, fmt.Errorf("sessiongen: schema %s: key %q used twice", schema.Name, k)
		}
		m.index[k] = i
	}
	for _, k := range schema.ConflictError {
		i, ok := m.index[k]
		if !ok {
			return nil, fmt.Errorf("sessiongen: schema %s: conflict=error key %q is not a field", schema.Name, k)
		}
		m.strict.set(i)
	}
	return m, nil
}

// Stats are counts of what a manager saw since it was made, for
// monitoring. Rising BadCookies or UnknownIDs can mean that someone is
// guessing session IDs or replaying old cookies.
type Stats struct {
	BadCookies uint64 // session cookies that were malformed or failed the signature check
	UnknownIDs uint64 // validly signed IDs the store did not know: expired, logged out, evicted
	Ambiguous  uint64 // requests carrying two different valid session cookies (both ignored)
	Corrupt    uint64 // records that could not be decoded (deleted; a fresh session instead)
	Conflicts  uint64 // saves that lost a compare-and-swap race and merged
	Failed     uint64 // requests answered by the error handler
	Dropped    uint64 // stored fields that no longer decoded into their type (read as zero)
}

type counters struct {
	badCookies, unknownIDs, ambiguous, corrupt, conflicts, failed, dropped atomic.Uint64
}

// Stats returns the manager's counts. Cookies are checked when a handler
// first uses its session, so requests that never do are not counted.
func (m *Manager) Stats() Stats {
	c := &m.stats
	return Stats{
		BadCookies: c.badCookies.Load(), UnknownIDs: c.unknownIDs.Load(), Ambiguous: c.ambiguous.Load(),
		Corrupt: c.corrupt.Load(), Conflicts: c.conflicts.Load(), Failed: c.failed.Load(), Dropped: c.dropped.Load(),
	}
}

// Store returns the store the manager uses.
func (m *Manager) Store() Store { return m.store }

// Close releases the in-memory store the manager created when
// Config.Store was nil. A store passed in the Config is the caller's to close.
func (m *Manager) Close() error {
	if ms, ok := m.store.(*MemoryStore); ok && m.ownStore {
		return ms.Close()
	}
	return nil
}

// Middleware serves next with a session in the request context. For each
// request it calls newSession for a zero generated value and the Session
// embedded in it, and stores the value under ctxKey. Generated code calls
// it; see a generated Middleware method.
func (m *Manager) Middleware(next http.Handler, ctxKey any, newSession func() (Data, *Session)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, s := newSession()
		s.ctx = valueCtx{Context: r.Context(), key: ctxKey, val: d}
		r = r.WithContext(&s.ctx) // the context node lives in the session: no allocation of its own
		s.init(m, d, w, r)
		next.ServeHTTP(&s.w, r)
		s.finish()
	})
}

// secure reports whether the cookie for r gets the Secure attribute: always
// unless Cookie.Secure is Off or Auto; with Auto, when r came over TLS or
// through a trusted proxy that says X-Forwarded-Proto: https.
func (m *Manager) secure(r *http.Request) bool {
	if !m.secureAuto {
		return m.cookie.Secure
	}
	if r.TLS != nil {
		return true
	}
	if len(m.trusted) == 0 || r.Header.Get("X-Forwarded-Proto") != "https" {
		return false
	}
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	for _, p := range m.trusted {
		if p.Contains(ap.Addr().Unmap()) {
			return true
		}
	}
	return false
}

// valueCtx is context.WithValue's node, embedded in the Session so that
// putting the session in the context allocates nothing more.
type valueCtx struct {
	context.Context
	key, val any
}

// Value implements context.Context.
func (c *valueCtx) Value(key any) any {
	if key == c.key {
		return c.val
	}
	return c.Context.Value(key)
}

// expiry is when a session created at created (unix seconds) expires if
// used at now: the idle deadline, capped by the absolute lifetime.
func (m *Manager) expiry(created int64, now time.Time) time.Time {
	idle := now.Add(m.idle)
	if end := time.Unix(created, 0).Add(m.lifetime); end.Before(idle) {
		return end
	}
	return idle
}

// setCookie adds a Set-Cookie header carrying id, or expiring the cookie
// when id is "". maxAge > 0 makes it persistent. Responses that set the
// cookie must not be cached.
func (m *Manager) setCookie(h http.Header, id string, maxAge int, secure bool) {
	c := m.cookie
	c.Secure = secure
	if id == "" {
		c.MaxAge = -1 // Max-Age=0
		c.Expires = time.Unix(1, 0)
	} else {
		c.Value = m.signer.sign(id)
		c.MaxAge = maxAge // 0: a browser-session cookie
	}
	h.Add("Set-Cookie", c.String())
	h.Set("Cache-Control", "no-store")
	h.Add("Vary", "Cookie")
}
