package runtime

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/sessiongen/sessiongen/runtime/wire"
)

// session is the per-request state of a session: which record it came
// from, what changed, and what the response must carry. It implements
// wire.Session: a generated session type reaches it through the
// wire.Handle it embeds, which the middleware binds to it.
//
// All methods are safe for concurrent use by the goroutines of one request.
type session struct {
	// The request it belongs to.
	mu   sync.Mutex
	m    *Manager
	st   Store          // the manager's store, or jar
	jar  *sealedCookies // the request's cookies, when the store keeps sessions in them
	data wire.Data      // the generated value, whose fields the handler reads and sets
	req  *http.Request
	w    writer
	ctx  valueCtx // the request context that carries this session

	// Which session: its ID and where it is stored.
	id       string // current ID; "" until one is needed
	key      string // store key of id
	hash     uint64 // hash of key, for the touch table
	cookieID string // the verified ID the request's cookie carried
	oldKey   string // a record to delete at the next flush

	// The record, as loaded or last written.
	ver     uint64 // version of the record under key; 0 when unknown
	created int64  // unix seconds
	issued  int64  // unix seconds the current ID was issued; 0 until written
	rec     []byte // the baseline for in-place changes and merges
	fields  fields // the loaded record, indexed
	decoded bits   // fields already decoded from the index
	lazy    bool   // fields are decoded from the index on first use
	stored  bool   // a record exists under key, as far as we know

	// What this request changed.
	dirty       bits     // fields set
	read        bits     // reference-typed fields handed out by a getter
	tx          *fieldTx // Update calls to replay on a newer value after a conflict; nil without any
	mustWrite   bool     // the whole record must be written (after Regenerate)
	headerDirty bool     // persistent changed: the record must be written
	touchReq    bool     // Touch was called
	persistent  bool     // the cookie carries Max-Age (Config.Persistent, or RememberMe)

	// Where the request stands.
	err      error // why the session could not be loaded
	loaded   bool  // load ran (the handler touched the session)
	isNew    bool  // the request brought no live session
	extended bool  // this request moved the expiry (a write or a touch)
	resend   bool  // the cookie's attributes changed (RememberMe)
	headers  bool  // the response headers were committed
	failed   bool  // the error handler replaced the response
}

func (s *session) init(m *Manager, d wire.Data, w http.ResponseWriter, r *http.Request) {
	s.m, s.data, s.req = m, d, r
	s.w = writer{ResponseWriter: w, s: s}
	s.persistent = m.persistent
	s.st = m.store
	if m.sealed != nil {
		s.jar = &sealedCookies{s: s}
		s.st = s.jar
	}
}

// header is the record header for the session as it stands.
func (s *session) header() header {
	h := header{created: s.created, issued: s.issued}
	if s.persistent {
		h.flags |= flagPersistent
	}
	return h
}

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
	if !s.loaded {
		s.load(s.req.Context())
	}
}

// MarkDirty records that a setter changed field i: a blind write, saved
// as it stands even when another request changed the field meanwhile.
// Call with the lock held.
func (s *session) MarkDirty(i int) {
	s.dirty.set(i)
	s.tx.markBlind(i)
}

// MarkRead records that a getter handed out field i, a reference type that
// can be changed in place; the change is detected when the session is
// saved. Call with the lock held.
func (s *session) MarkRead(i int) { s.read.set(i) }

// load reads the record the request's cookie points to. Call with the lock held.
func (s *session) load(ctx context.Context) {
	s.loaded = true
	s.isNew = true
	var id string
	var bad int
	var anomaly bool
	if s.jar != nil {
		var unopened bool
		id, unopened = s.jar.open(s.req, s.m.now())
		bad = b2i(unopened)
	} else {
		id, bad, anomaly = s.m.signer.idFromRequest(s.req)
	}
	s.m.stats.badCookies.Add(uint64(bad))
	if anomaly {
		s.m.stats.ambiguous.Add(1)
		s.m.log.WarnContext(ctx, "sessiongen: request carries two validly signed session cookies; ignoring both", "type", s.m.schema.Name)
	}
	if id == "" {
		return
	}
	s.cookieID = id
	// An ID renewed moments ago (Config.RenewAfter) is followed, once,
	// and this response hands the browser the new cookie.
	id, key, rec, ver, err := loadFollowing(ctx, s.st, id)
	switch {
	case errors.Is(err, ErrNotFound):
		s.m.stats.unknownIDs.Add(1)
		return // strict: an unknown ID is never adopted; a new one is issued if needed
	case err != nil:
		s.err = fmt.Errorf("sessiongen: load session: %w", err)
		return
	}
	hdr, err := s.open(rec)
	if err != nil {
		s.dropRecord(ctx, key, err)
		s.resetData()
		s.oldKey = key
		return
	}
	if now := s.m.now(); now.Unix()-hdr.created >= int64(s.m.lifetime/time.Second) {
		s.resetData()
		s.oldKey = key
		return
	}
	s.id, s.key, s.hash, s.ver, s.created, s.issued, s.rec = id, key, keyHash(key), ver, hdr.created, hdr.issued, rec
	s.persistent = hdr.flags&flagPersistent != 0
	s.stored, s.isNew = true, false
}

// open reads a loaded record: it validates and indexes the record and
// decodes nothing yet. Fields are decoded on first use (Need); a save
// copies the others as they are.
func (s *session) open(rec []byte) (header, error) {
	hdr, err := s.indexRecord(rec)
	s.lazy = err == nil
	s.decoded.clear()
	return hdr, err
}

// Need loads the session on first use and decodes field i from the
// loaded record if it has not been yet. Generated accessors call it with
// the lock held.
func (s *session) Need(i int) {
	s.ensureLoaded()
	if !s.lazy || s.decoded.has(i) {
		return
	}
	s.decoded.set(i)
	e := s.fields.entry(i)
	if e == nil {
		return // not in the record: zero
	}
	defer s.recoverDecoder()
	if _, _, err := s.m.schema.Decode(s.data, e, 0, 1, nil); err != nil {
		// The value no longer fits its type (it changed between
		// releases): the field reads as zero and is saved as zero if the
		// session is written.
		s.logDropped(s.m.schema.Keys[i], err)
	}
}

// recoverDecoder treats a decoder's panic (a buggy custom decoder, most
// likely) as a corrupt record: the session starts afresh and the record
// is deleted at the next save. The fields the handler read before stay
// as it read them, in its own variables.
func (s *session) recoverDecoder() {
	p := recover()
	if p == nil {
		return
	}
	s.dropRecord(s.req.Context(), s.key, fmt.Errorf("%w: decoder panicked: %v", errCorrupt, p))
	if s.stored {
		s.oldKey = s.key
	}
	s.empty()
}

// dropRecord counts and logs a record that cannot be read.
func (s *session) dropRecord(ctx context.Context, key string, err error) {
	s.m.stats.corrupt.Add(1)
	s.m.log.ErrorContext(ctx, "sessiongen: dropping unreadable session record", "type", s.m.schema.Name, "session", s.m.logID(key), "err", err)
}

// resetData zeroes the generated fields by decoding an empty map.
func (s *session) resetData() {
	wire.Zero(s.data)
}

func (s *session) setID(id string) {
	s.id = id
	s.key, s.hash = "", 0
	if id != "" {
		s.key = storeKey(id)
		s.hash = keyHash(s.key)
	}
}

// ID returns the session ID, assigning one if the session has none yet.
func (s *session) ID() string {
	s.use()
	defer s.mu.Unlock()
	if s.id == "" {
		s.setID(newID())
	}
	return s.id
}

// IsNew reports whether the request brought no live session.
func (s *session) IsNew() bool {
	s.use()
	defer s.mu.Unlock()
	return s.isNew
}

// Err returns the error that kept the session from loading, if any.
func (s *session) Err() error {
	s.use()
	defer s.mu.Unlock()
	return s.err
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
	if s.err != nil {
		return
	}
	if s.stored {
		s.oldKey = s.key
		s.stored, s.ver, s.mustWrite = false, 0, true
	}
	s.setID(newID())
	s.issued = 0
}

// Destroy ends the session: its record is deleted and the cookie expired
// when the response is committed. The session is empty afterwards; setting
// a field starts a new one under a new ID.
func (s *session) Destroy() {
	s.use()
	defer s.mu.Unlock()
	if s.err != nil {
		return
	}
	if s.stored {
		s.oldKey = s.key
	}
	s.empty()
}

// empty makes the session a new, empty one with no ID yet: after Destroy,
// when the record vanished under a save, and before Reload reads it again.
// Call with the lock held.
func (s *session) empty() {
	s.setID("")
	s.stored, s.ver, s.mustWrite, s.isNew = false, 0, false, true
	s.created, s.issued, s.rec = 0, 0, nil
	s.persistent, s.headerDirty = s.m.persistent, false
	s.saved()
	s.resetData()
}

// RememberMe makes the session's cookie persistent (on: it survives
// browser restarts, until the session expires) or a browser-session cookie
// (off). The default is Config.Persistent.
func (s *session) RememberMe(on bool) {
	s.use()
	defer s.mu.Unlock()
	if s.err == nil && s.persistent != on {
		s.persistent, s.headerDirty, s.resend = on, true, true
	}
}

// Touch moves the idle deadline forward at the next save, even if the
// session did not change.
func (s *session) Touch() {
	s.use()
	defer s.mu.Unlock()
	s.touchReq = true
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
	s.cookieID, s.oldKey, s.err, s.touchReq, s.extended = "", "", nil, false, false
	s.empty()
	s.load(ctx)
	return s.err
}

// logDropped counts and logs a field that reads as its zero value because
// its stored value no longer decodes.
func (s *session) logDropped(key string, err error) {
	s.m.stats.dropped.Add(1)
	s.m.log.Warn("sessiongen: a stored field no longer decodes into its type; it reads as its zero value", "type", s.m.schema.Name, "key", key, "err", err)
}
