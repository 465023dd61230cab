package runtime

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/sessiongen/sessiongen/runtime/internal/carry"
	"github.com/sessiongen/sessiongen/runtime/internal/mp"
	"github.com/sessiongen/sessiongen/runtime/wire"
)

// session is the per-request state of a session, in three parts of its
// own: what the request loaded (base), what it changed (chg), and its
// business with the carrier the session travels in (trip). A save is
// planned from the first two (plan.go) and carried out through the
// carrier (save.go). It implements typed.Session: a generated session
// type reaches it through the wire.Handle it embeds, which the
// middleware binds to it.
//
// All methods are safe for concurrent use by the goroutines of one request.
type session struct {
	mu   sync.Mutex
	m    *Manager
	data wire.Data  // the generated value, whose fields the handler reads and sets
	ctx  valueCtx   // the request context that carries this session
	bg   detached   // ctx without its cancellation: what loads and saves run under
	w    writer     // the response, which commits the session before its headers leave
	trip carry.Trip // the request, what its cookies carried and what the response's will

	id   ident    // which session: its ID and where it is stored
	base baseline // the record as loaded or last written
	chg  changes  // what the request changed since

	state state // how far the request is with the session
}

// state is where a request stands with its session: whether it loaded
// it, and whether its response headers left.
type state uint8

const (
	loaded   state = 1 << iota // load ran: the handler used the session
	sent                       // the response headers were committed
	replaced                   // the error handler answered in the handler's place
)

func (st state) has(f state) bool { return st&f != 0 }

// ident is which session a request holds: its ID and its store key.
type ident struct {
	id   string // current ID; "" until one is needed
	key  string // store key of id
	hash uint64 // hash of key, for the touch table and the save turns
}

// setKeyed sets the ID and its store key, already derived.
func (d *ident) setKeyed(id, key string) { *d = ident{id: id, key: key, hash: keyHash(key)} }

func (d *ident) set(id string) {
	*d = ident{id: id}
	if id != "" {
		d.key = storeKey(id)
		d.hash = keyHash(d.key)
	}
}

// header is the record header for the session as it stands.
func (s *session) header() header { return s.chg.header(s.base.hdr) }

// persistent reports whether the session's cookie carries a Max-Age.
func (s *session) persistent() bool { return s.header().flags&flagPersistent != 0 }

// isNew reports whether the request brought no live session: no record
// is stored under its key, and none is about to be under a new one.
func (s *session) isNew() bool { return !s.base.stored && !s.chg.rewrite }

// Lock locks the session. Loading is a step of its own: Need and use.
func (s *session) Lock() { s.mu.Lock() }

// Unlock unlocks the session.
func (s *session) Unlock() { s.mu.Unlock() }

// use locks the session and loads it if this is the request's first use
// of it: every lifecycle method begins with it.
func (s *session) use() {
	s.mu.Lock()
	s.ensureLoaded()
}

// ensureLoaded loads the session on the request's first use of it. Call
// with the lock held.
func (s *session) ensureLoaded() {
	if !s.state.has(loaded) {
		s.load(&s.bg)
	}
}

// ID returns the session ID, assigning one if the session has none yet.
func (s *session) ID() string {
	s.use()
	defer s.mu.Unlock()
	if s.id.id == "" {
		s.id.set(newID())
	}
	return s.id.id
}

// IsNew reports whether the request brought no live session.
func (s *session) IsNew() bool {
	s.use()
	defer s.mu.Unlock()
	return s.isNew()
}

// Err returns the error that kept the session from loading, if any.
func (s *session) Err() error {
	s.use()
	defer s.mu.Unlock()
	return s.base.err
}

// Regenerate gives the session a new ID and keeps its data. The record
// under the old ID is deleted when the session is saved, so a stolen
// pre-login cookie is worthless after login. Call it on every privilege
// change.
func (s *session) Regenerate() {
	s.use()
	defer s.mu.Unlock()
	s.Renew()
}

// Renew is Regenerate for callers holding the lock: the generated setters
// of fields tagged renew.
func (s *session) Renew() {
	if s.base.err != nil {
		return
	}
	if s.base.stored {
		s.chg.drop, s.chg.dropVer, s.chg.ended = s.id.key, s.base.ver, ending{}
		s.base.stored, s.base.ver, s.chg.rewrite = false, 0, true
	}
	s.id.set(newID())
	s.base.hdr.issued = 0
}

// Destroy ends the session: its record is deleted and the cookie expired
// when the response is committed. The session is empty afterwards; setting
// a field starts a new one under a new ID.
func (s *session) Destroy() {
	s.use()
	defer s.mu.Unlock()
	if s.base.err != nil {
		return
	}
	switch {
	case s.base.stored:
		s.chg.drop, s.chg.dropVer = s.id.key, s.base.ver
		s.chg.ended = ending{kind: EventDestroyed, owner: s.owner()}
	case s.chg.rewrite && s.chg.drop != "":
		// Regenerated in this request and not saved since: the record
		// under the old ID is the one that ends.
		s.chg.ended = ending{kind: EventDestroyed, owner: s.owner()}
	}
	s.empty()
}

// owner returns the session's owner field, for an event or the owner's
// index: "" without a hook and an index, or without an owner field. Call
// with the lock held.
func (s *session) owner() string {
	if s.m.schema.Owner == nil || s.m.onEvent == nil && !s.m.keepsOwners() && s.m.revoc == nil {
		return ""
	}
	s.Need(s.m.schema.OwnerField)
	return s.m.schema.Owner(s.data)
}

// empty makes the session a new, empty one with no ID yet: after Destroy,
// when the record vanished under a save, and before Reload reads it again.
// What is left to delete stays. Call with the lock held.
func (s *session) empty() {
	s.id.set("")
	s.base.reset(s.m.flags)
	s.chg.saved()
	mp.Zero(s.data) // decodes an empty map: the fields are zero, and nothing is left to decode lazily
}

// RememberMe makes the session's cookie persistent (on: it survives
// browser restarts, until the session expires) or a browser-session cookie
// (off). The default is Config.Persistent.
func (s *session) RememberMe(on bool) {
	s.use()
	defer s.mu.Unlock()
	if s.base.err == nil && s.persistent() != on {
		s.chg.rememberMe(on)
		s.trip.Resend = true
	}
}

// Touch moves the idle deadline forward at the next save, even if the
// session did not change.
func (s *session) Touch() {
	s.use()
	defer s.mu.Unlock()
	s.chg.touch = true
}

// Save writes what changed now, instead of when the response is committed.
func (s *session) Save(ctx context.Context) error {
	s.use()
	defer s.mu.Unlock()
	return s.flush(ctx, true)
}

// Reload discards this request's changes, Destroy and Regenerate included,
// and reads the session again from the store.
func (s *session) Reload(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		return errors.New("sessiongen: Reload on a session outside Middleware")
	}
	s.trip.CookieID, s.chg.drop, s.chg.touch, s.base.err = "", "", false, nil
	s.empty()
	s.load(ctx)
	return s.base.err
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

// detached is a request's context without its cancellation, as
// context.WithoutCancel makes one, but kept in the session (no allocation
// of its own): a client that hangs up after sending its request does not
// cancel the load or the save it caused, which the store's own timeout
// bounds. Its values (a trace span, a logger's attributes) are the
// request's.
type detached struct{ parent context.Context }

// Deadline implements context.Context: none.
func (detached) Deadline() (time.Time, bool) { return time.Time{}, false }

// Done implements context.Context: never.
func (detached) Done() <-chan struct{} { return nil }

// Err implements context.Context: nil.
func (detached) Err() error { return nil }

// Value implements context.Context.
func (c *detached) Value(key any) any { return c.parent.Value(key) }
