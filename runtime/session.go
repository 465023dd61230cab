package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// Session is the per-request state of a session: which record it came
// from, what changed, and what the response must carry. Generated session
// types embed one and call its methods; hand-written code uses the
// generated methods instead.
//
// All methods are safe for concurrent use by the goroutines of one request.
type Session struct {
	mu   sync.Mutex
	m    *Manager
	data Data
	req  *http.Request
	w    writer

	id       string // current ID; "" until one is needed
	key      string // store key of id
	hash     uint64 // hash of key, for the touch table
	cookieID string // the verified ID the request's cookie carried
	oldKey   string // a record to delete at the next flush
	ver      uint64 // version of the record under key; 0 when unknown
	created  int64  // unix seconds
	rec      []byte // the record as last seen in the store: the baseline for in-place changes and merges
	unknown  []entry
	dirty    bits // fields set in this request
	read     bits // reference-typed fields handed out by a getter
	err      error

	loaded    bool // load ran (the handler touched the session)
	stored    bool // a record exists under key, as far as we know
	isNew     bool // the request brought no live session
	mustWrite bool // the whole record must be written (after Regenerate)
	touchReq  bool // Touch was called
	headers   bool // the response headers were committed
	failed    bool // the error handler replaced the response
}

// maxSaveAttempts bounds the compare-and-swap retries of one save.
const maxSaveAttempts = 5

func (s *Session) init(m *Manager, d Data, w http.ResponseWriter, r *http.Request) {
	s.m, s.data, s.req = m, d, r
	s.w = writer{ResponseWriter: w, s: s}
}

// Lock locks the session and loads it on first use.
func (s *Session) Lock() {
	s.mu.Lock()
	if !s.loaded && s.m != nil {
		s.load(s.req.Context())
	}
}

// Unlock unlocks the session.
func (s *Session) Unlock() { s.mu.Unlock() }

// MarkDirty records that field i changed. Call with the lock held.
func (s *Session) MarkDirty(i int) { s.dirty.set(i) }

// MarkRead records that a getter handed out field i, a reference type that
// can be changed in place; the change is detected when the session is
// saved. Call with the lock held.
func (s *Session) MarkRead(i int) { s.read.set(i) }

// load reads the record the request's cookie points to. Call with the lock held.
func (s *Session) load(ctx context.Context) {
	s.loaded = true
	s.isNew = true
	id, anomaly := s.m.signer.idFromRequest(s.req)
	if anomaly {
		s.m.log.WarnContext(ctx, "sessiongen: request carries two validly signed session cookies; ignoring both", "type", s.m.schema.Name)
	}
	if id == "" {
		return
	}
	s.cookieID = id
	key := storeKey(id)
	rec, ver, err := s.m.store.Load(ctx, key)
	switch {
	case errors.Is(err, ErrNotFound):
		return // strict: an unknown ID is never adopted; a new one is issued if needed
	case err != nil:
		s.err = fmt.Errorf("sessiongen: load session: %w", err)
		return
	}
	created, err := decodeRecord(rec, s.data)
	if err != nil {
		s.m.log.ErrorContext(ctx, "sessiongen: dropping unreadable session record", "type", s.m.schema.Name, "session", logID(key), "err", err)
		s.resetData()
		s.oldKey = key
		return
	}
	if now := s.m.now(); now.Unix()-created >= int64(s.m.lifetime/time.Second) {
		s.resetData()
		s.oldKey = key
		return
	}
	s.id, s.key, s.hash, s.ver, s.created, s.rec = id, key, keyHash(key), ver, created, rec
	s.stored, s.isNew = true, false
}

// resetData zeroes the generated fields by decoding an empty map.
func (s *Session) resetData() {
	c := codecPool.Get().(*codecState)
	defer codecPool.Put(c)
	c.rd.Reset([]byte{0x80})
	c.dec.Reset(&c.rd)
	_ = s.data.DecodeMsgpack(c.dec) // cannot fail on an empty map
}

func (s *Session) setID(id string) {
	s.id = id
	s.key, s.hash = "", 0
	if id != "" {
		s.key = storeKey(id)
		s.hash = keyHash(s.key)
	}
}

// ID returns the session ID, assigning one if the session has none yet.
func (s *Session) ID() string {
	s.Lock()
	defer s.Unlock()
	if s.id == "" {
		s.setID(newID())
	}
	return s.id
}

// IsNew reports whether the request brought no live session.
func (s *Session) IsNew() bool {
	s.Lock()
	defer s.Unlock()
	return s.isNew
}

// Err returns the error that kept the session from loading, if any.
func (s *Session) Err() error {
	s.Lock()
	defer s.Unlock()
	return s.err
}

// Regenerate gives the session a new ID and keeps its data. The record
// under the old ID is deleted when the session is saved, so a stolen
// pre-login cookie is worthless after login. Call it on every privilege
// change.
func (s *Session) Regenerate() {
	s.Lock()
	defer s.Unlock()
	if s.err != nil {
		return
	}
	if s.stored {
		s.oldKey = s.key
		s.stored, s.ver, s.mustWrite = false, 0, true
	}
	s.setID(newID())
}

// Destroy ends the session: its record is deleted and the cookie expired
// when the response is committed. The session is empty afterwards; setting
// a field starts a new one under a new ID.
func (s *Session) Destroy() {
	s.Lock()
	defer s.Unlock()
	if s.err != nil {
		return
	}
	if s.stored {
		s.oldKey = s.key
	}
	s.setID("")
	s.stored, s.ver, s.mustWrite, s.isNew = false, 0, false, true
	s.created, s.rec = 0, nil
	s.dirty.clear()
	s.read.clear()
	s.resetData()
}

// Touch moves the idle deadline forward at the next save, even if the
// session did not change.
func (s *Session) Touch() {
	s.Lock()
	defer s.Unlock()
	s.touchReq = true
}

// Save writes what changed now, instead of when the response is committed.
func (s *Session) Save(ctx context.Context) error {
	s.Lock()
	defer s.Unlock()
	return s.flush(ctx, true)
}

// Reload discards this request's changes, Destroy and Regenerate included,
// and reads the session again from the store.
func (s *Session) Reload(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		return errors.New("sessiongen: Reload on a session outside Middleware")
	}
	s.setID("")
	s.cookieID, s.oldKey, s.ver, s.created, s.rec, s.err = "", "", 0, 0, nil, nil
	s.stored, s.isNew, s.mustWrite, s.touchReq = false, false, false, false
	s.dirty.clear()
	s.read.clear()
	s.resetData()
	s.load(ctx)
	return s.err
}

// flush brings the store up to date: it writes changed data, deletes
// records left by Destroy or Regenerate, and moves the idle deadline.
// With keep, the request goes on: a copy of what was written stays the
// baseline for later changes. Call with the lock held.
func (s *Session) flush(ctx context.Context, keep bool) error {
	if s.err != nil {
		return s.err
	}
	if !s.loaded {
		return nil
	}
	now := s.m.now()
	s.detectInPlace()
	write := s.mustWrite || s.dirty.any()
	if write {
		if err := s.write(ctx, now, keep); err != nil {
			return err
		}
	}
	if s.oldKey != "" {
		if err := s.m.store.Delete(ctx, s.oldKey); err != nil && !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("sessiongen: delete old session: %w", err)
		}
		s.m.touches.forget(keyHash(s.oldKey))
		s.oldKey = ""
	}
	if !write && s.stored && (s.touchReq || s.m.touches.due(s.hash, now, s.m.idle)) {
		err := s.m.store.Touch(ctx, s.key, s.m.expiry(s.created, now))
		switch {
		case err == nil:
			s.m.touches.mark(s.hash, now)
		case errors.Is(err, ErrNotFound):
			s.gone()
		default:
			return fmt.Errorf("sessiongen: touch session: %w", err)
		}
		s.touchReq = false
	}
	return nil
}

// write saves the record. A new record is created with version 0, which
// never overwrites another; an existing one is replaced by compare-and-swap
// and, when another request wrote first, the fields this request changed
// are merged onto the newer record and the write retried.
//
// Saves of one session within one process take turns (a striped lock), so
// only another process can make the retried compare-and-swap fail: without
// that, many overlapping requests of one visitor keep re-racing each other.
func (s *Session) write(ctx context.Context, now time.Time, keep bool) error {
	if s.id == "" {
		s.setID(newID())
	}
	if s.m.merge {
		turn := &s.m.saveTurns[s.hash%uint64(len(s.m.saveTurns))]
		turn.Lock()
		defer turn.Unlock()
	}
	if s.created == 0 {
		s.created = now.Unix()
	}
	rec, put, err := encodeRecord(s.created, s.data)
	if err != nil {
		return err
	}
	defer put()
	ver, base, merged := s.ver, s.rec, false
	refetch := s.stored && ver == 0 // we wrote it earlier in this request: version unknown
	for attempt := 1; ; attempt++ {
		if refetch {
			fresh, fver, err := s.m.store.Load(ctx, s.key)
			switch {
			case errors.Is(err, ErrNotFound):
				s.gone()
				return nil
			case err != nil:
				return fmt.Errorf("sessiongen: reload session to merge: %w", err)
			}
			if rec, err = s.merge(rec, base, fresh); err != nil {
				return err
			}
			ver, base, merged = fver, fresh, true
		}
		err := s.m.store.Save(ctx, s.key, rec, ver, s.m.expiry(s.created, now))
		switch {
		case err == nil:
		case errors.Is(err, ErrNotFound) && ver != 0:
			s.gone() // destroyed or regenerated by a concurrent request: a logout is never undone
			return nil
		case errors.Is(err, ErrConflict) && ver == 0 && !s.stored:
			s.setID(newID()) // the new ID was taken (never in practice): pick another
			continue
		case errors.Is(err, ErrConflict) && attempt < maxSaveAttempts && s.m.merge:
			refetch = true
			// Full jitter, growing: 0–1 ms, 0–2 ms, 0–4 ms, … capped at 0–32 ms.
			time.Sleep(time.Duration(rand.Int64N(int64(time.Millisecond) << min(attempt-1, 5))))
			continue
		default:
			return fmt.Errorf("sessiongen: save session: %w", err)
		}
		break
	}
	s.stored, s.isNew, s.mustWrite, s.ver, s.rec = true, false, false, 0, nil
	if keep {
		s.rec = bytes.Clone(rec)
	}
	s.dirty.clear()
	s.read.clear()
	s.m.touches.mark(s.hash, now)
	if merged {
		// Let the rest of the request see what the other writers stored.
		if _, err := decodeRecord(rec, s.data); err != nil {
			return fmt.Errorf("sessiongen: decode merged session: %w", err)
		}
	}
	return nil
}

// merge returns fresh with the fields this request changed replaced by
// their values in ours. Fields of fresh that this code does not know are
// kept as they are. A changed field that fresh also changed since base
// (the record this request last saw) goes to the later writer, this one,
// unless it is tagged conflict=error. With no base, the later writer wins.
func (s *Session) merge(ours, base, fresh []byte) ([]byte, error) {
	var mine, theirs, before []entry
	if _, _, err := checkRecord(ours, &mine); err != nil {
		return nil, err
	}
	created, _, err := checkRecord(fresh, &theirs)
	if err != nil {
		s.m.log.Error("sessiongen: overwriting unreadable session record", "type", s.m.schema.Name, "session", logID(s.key), "err", err)
		return ours, nil
	}
	if base != nil {
		if _, _, err := checkRecord(base, &before); err != nil {
			base = nil
		}
	}
	changed := func(key []byte) (int, bool) {
		i, ok := s.m.index[string(key)]
		return i, ok && s.dirty.has(i)
	}
	out := make([]entry, 0, len(theirs)+len(mine))
	for _, e := range theirs {
		i, mineToo := changed(e.key)
		if !mineToo {
			out = append(out, e)
			continue
		}
		if base != nil && s.m.strict.has(i) && !bytes.Equal(e.val, valueOf(before, e.key)) {
			return nil, &FieldConflictError{Key: string(e.key)}
		}
	}
	for _, e := range mine {
		if _, ok := changed(e.key); ok {
			out = append(out, e)
		}
	}
	if base != nil { // a strict field that the other writer added, or removed (omitempty)
		for i := range s.m.schema.Keys {
			k := []byte(s.m.schema.Keys[i])
			if s.m.strict.has(i) && s.dirty.has(i) && (valueOf(theirs, k) == nil) != (valueOf(before, k) == nil) {
				return nil, &FieldConflictError{Key: s.m.schema.Keys[i]}
			}
		}
	}
	s.created = created
	return buildRecord(created, out), nil
}

// valueOf returns the raw value of key in entries, or nil.
func valueOf(entries []entry, key []byte) []byte {
	for _, e := range entries {
		if bytes.Equal(e.key, key) {
			return e.val
		}
	}
	return nil
}

// buildRecord writes a record from raw entries.
func buildRecord(created int64, entries []entry) []byte {
	var buf bytes.Buffer
	buf.Write(appendHeader(nil, created))
	enc := msgpack.NewEncoder(&buf)
	_ = enc.EncodeMapLen(len(entries))
	for _, e := range entries {
		_ = enc.EncodeString(string(e.key))
		buf.Write(e.val)
	}
	return buf.Bytes()
}

// detectInPlace marks dirty the reference-typed fields that a getter
// handed out and that were changed in place since the load. It costs
// nothing unless such a getter was called. Encoding is deterministic (map
// keys sorted, fields in order), so an unchanged session re-encodes to the
// very bytes that were loaded: one encode and one comparison settle the
// common case, and only a real change pays for a per-field diff. Call with
// the lock held.
func (s *Session) detectInPlace() {
	if !s.read.any() {
		return
	}
	if s.rec == nil { // no baseline (new session, or saved earlier): assume changed
		s.markReadDirty()
		return
	}
	rec, put, err := encodeRecord(s.created, s.data)
	if err != nil {
		s.markReadDirty()
		return
	}
	defer put()
	if bytes.Equal(rec, s.rec) {
		s.read.clear()
		return
	}
	var now, then []entry
	_, _, err1 := checkRecord(rec, &now)
	_, _, err2 := checkRecord(s.rec, &then)
	if err1 != nil || err2 != nil {
		s.markReadDirty()
		return
	}
	for i, k := range s.m.schema.Keys {
		if s.read.has(i) && !bytes.Equal(valueOf(now, []byte(k)), valueOf(then, []byte(k))) {
			s.dirty.set(i) // changed, or present in only one of them
		}
	}
	s.read.clear()
}

func (s *Session) markReadDirty() {
	for i := range s.m.schema.Keys {
		if s.read.has(i) {
			s.dirty.set(i)
		}
	}
	s.read.clear()
}

// gone handles a record that disappeared under us: the session is over.
func (s *Session) gone() {
	s.stored, s.ver, s.mustWrite, s.isNew = false, 0, false, true
	s.setID("")
	s.dirty.clear()
	s.read.clear()
	s.rec = nil
	s.resetData()
}

// KeepUnknown keeps a field this code does not know (written by another
// version of the application), so that it is written back untouched.
func (s *Session) KeepUnknown(key []byte, dec *msgpack.Decoder) error {
	if r, ok := dec.Buffered().(*Reader); ok {
		start := r.i
		if err := dec.Skip(); err != nil {
			return err
		}
		s.unknown = append(s.unknown, entry{key: key, val: r.b[start:r.i]})
		return nil
	}
	raw, err := dec.DecodeRaw()
	if err != nil {
		return err
	}
	s.unknown = append(s.unknown, entry{key: bytes.Clone(key), val: raw})
	return nil
}

// ResetUnknown forgets the unknown fields; generated decoders call it first.
func (s *Session) ResetUnknown() { s.unknown = s.unknown[:0] }

// UnknownLen returns the number of unknown fields kept.
func (s *Session) UnknownLen() int { return len(s.unknown) }

// EncodeUnknown writes the unknown fields back as they were read.
func (s *Session) EncodeUnknown(enc *msgpack.Encoder) error {
	for _, e := range s.unknown {
		if err := enc.EncodeString(string(e.key)); err != nil {
			return err
		}
		if _, err := enc.Writer().Write(e.val); err != nil {
			return err
		}
	}
	return nil
}

// commit runs when the response headers are about to leave: it saves the
// session and sets or expires the cookie. A session the handler never
// touched costs nothing. On a store error the error handler answers
// instead of the handler, and the cookie is left as it was.
func (s *Session) commit() {
	s.mu.Lock()
	if s.headers {
		s.mu.Unlock()
		return
	}
	s.headers = true
	if !s.loaded {
		s.mu.Unlock()
		return
	}
	err := s.flush(s.req.Context(), false)
	if err == nil {
		s.setCookie()
		s.mu.Unlock()
		return
	}
	s.failed = true
	s.mu.Unlock()
	s.m.errorHandler(s.w.ResponseWriter, s.req, err)
}

// setCookie sends the cookie the browser should now hold. Call with the
// lock held.
func (s *Session) setCookie() {
	want := ""
	if s.stored {
		want = s.id
	}
	if want != s.cookieID {
		s.m.setCookie(s.w.Header(), want)
		s.cookieID = want
	}
}

// finish runs after the handler returned. Changes made after the headers
// left are saved when they need no new cookie, and logged when they do.
func (s *Session) finish() {
	if !s.headers {
		s.commit()
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failed || !s.loaded || s.err != nil {
		return
	}
	s.detectInPlace()
	write := s.mustWrite || s.dirty.any()
	if !write && s.oldKey == "" {
		return
	}
	ctx := s.req.Context()
	if write && (s.id == "" || s.id != s.cookieID) {
		s.m.log.WarnContext(ctx, "sessiongen: session changed after the response headers were sent; the change needs a new cookie and was not saved. Change the session before writing the response.", "type", s.m.schema.Name)
		if s.mustWrite || s.oldKey == "" {
			return // a late Regenerate or a new session: keep what the browser holds working
		}
		s.dirty.clear() // a late Destroy: still delete the old record
		s.read.clear()
	}
	if err := s.flush(ctx, false); err != nil {
		s.m.log.ErrorContext(ctx, "sessiongen: saving session after the response failed", "type", s.m.schema.Name, "err", err)
	}
}
