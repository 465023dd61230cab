package runtime

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/sessiongen/sessiongen/runtime/internal/mp"
	"github.com/sessiongen/sessiongen/runtime/wire"
)

// Per-owner logout. A session type with an owner field (tagged
// session:"uid,owner") keeps, per owner, an index record in the same
// store as the sessions: the store keys of that owner's sessions, each
// with its creation time and absolute deadline. A save that sets or
// changes the owner, or gives an owned session a new ID, adds the key to
// the index first (a load and a compare-and-swap of the index), so no
// session of an owner is ever missing from the index; nothing else
// touches it. Entries of ended sessions, or of sessions that changed
// owner, are left behind: Sessions and LogoutAll load every listed
// session and act on the live ones whose owner field still names the
// owner; LogoutAll removes the entries it ended, and the rest go at
// their deadline, or when the owner reaches the cap (which counts live
// sessions only).
//
// The index lives in the store, so LogoutAll reaches the sessions every
// instance of the application created, and needs no other storage.

// ownerIndexRetries bounds the compare-and-swap loop on one index.
const ownerIndexRetries = 20

// ErrTooManySessions is the error of a save that would give an owner more
// than Config.MaxSessionsPerOwner sessions, with OverLimit: RefuseNew.
var ErrTooManySessions = errors.New("sessiongen: the owner has Config.MaxSessionsPerOwner sessions already")

// pendingEntry is how long an index entry whose record is not stored yet
// counts as a session, not as one that ended: the time between indexing a
// key and storing its record, one save, is far shorter.
const pendingEntry = time.Minute

// OwnedSession is one live session of an owner, as Sessions lists it: the
// "your devices" page.
type OwnedSession struct {
	Created time.Time // when the session began
	// Issued is when its current ID was issued: its last login,
	// regeneration or renewal.
	Issued    time.Time
	LastWrite time.Time // when a request last saved it (not a touch)
	// LastSeen is when a request last used it, to the touch granularity
	// (a tenth of IdleTimeout): a request that only reads the session
	// records it when it moves the idle deadline, with a write of the
	// record instead of a touch, not on every request.
	LastSeen time.Time
	Current  bool // it is the session of the request whose context was passed
	key      string
	owner    string
	m        *Manager
}

// End ends the session: its next request starts a fresh one, and its
// place under Config.MaxSessionsPerOwner is free.
func (o OwnedSession) End(ctx context.Context) error { return o.end(ctx, true) }

// unindex removes key from owner's index.
func (m *Manager) unindex(ctx context.Context, owner, key string) error {
	_, err := m.updateIndex(ctx, owner, m.now(), false, func(es []ownerEntry) ([]ownerEntry, error) {
		return slices.DeleteFunc(es, func(e ownerEntry) bool { return e.key == key }), nil
	})
	return err
}

// end is End; without unindex, for LogoutAll, which takes what it ended
// out of the index itself.
func (o OwnedSession) end(ctx context.Context, unindex bool) error {
	_, err := o.m.endSession(ctx, nil, o.key, 0, ending{kind: EventDestroyed, owner: o.owner}, o.m.requestOf(ctx), unindex)
	if err != nil {
		return fmt.Errorf("sessiongen: end session: %w", err)
	}
	if o.Current {
		if s := o.m.current(ctx); s != nil {
			s.Destroy()
		}
	}
	return nil
}

// ownerKey is the store key of an owner's index: distinct per session
// type, and never a session's key (those are 43 bytes).
func (m *Manager) ownerKey(owner string) string {
	d := sha256.Sum256([]byte("sessiongen owner\x00" + m.schema.Name + "\x00" + owner))
	return "owner-" + b64.EncodeToString(d[:])
}

// ownsSessions reports whether the manager can list an owner's sessions,
// and why not.
func (m *Manager) ownsSessions() error {
	switch {
	case m.schema.Owner == nil:
		return fmt.Errorf("sessiongen: %s has no owner field (tag one session:\"name,owner\"): %w", m.schema.Name, errors.ErrUnsupported)
	case m.store == nil:
		return fmt.Errorf("sessiongen: sessions kept in cookies cannot be listed or ended from the server (shorten IdleTimeout, use a server-side store, or cookiestore.WithRevocation for LogoutAll): %w", errors.ErrUnsupported)
	}
	return nil
}

// keepsOwners reports whether the session type has an owner field and
// the manager keeps sessions in a server-side store: then a session's
// owner is indexed and its last write stamped.
func (m *Manager) keepsOwners() bool { return m.schema.Owner != nil && m.store != nil }

// indexOwner adds the session's key to its owner's index, if the session
// has an owner. Called before the session is saved under key; replaces
// is the key the session had until now, when it changes ID, or "".
//
// The index is where Config.MaxSessionsPerOwner holds: the compare-and-
// swap that adds a key decides, against every other instance, whether
// the owner has room. A session indexed beyond the limit is refused
// (ErrTooManySessions: nothing is stored), or the oldest sessions leave
// the index in the same write and are ended after it (EventEvicted), a
// login still under way by a retired record in the way of its create. A
// key that replaces another (Regenerate, a renewal) is no new session.
func (s *session) indexOwner(ctx context.Context, key, replaces string, now time.Time) error {
	s.Need(s.m.schema.OwnerField) // a handler that never read it left it undecoded
	owner := s.m.schema.Owner(s.data)
	if owner == "" {
		return nil
	}
	add := ownerEntry{key: key, created: s.base.hdr.created, deadline: time.Unix(s.base.hdr.created, 0).Add(s.m.lifetime).Unix(), added: now.Unix()}
	var evict []ownerEntry
	_, err := s.m.updateIndex(ctx, owner, now, true, func(es []ownerEntry) ([]ownerEntry, error) {
		evict = evict[:0]
		es = slices.DeleteFunc(es, func(e ownerEntry) bool { return e.key == key })
		others := len(es)
		if replaces != "" && slices.ContainsFunc(es, func(e ownerEntry) bool { return e.key == replaces }) {
			others--
		}
		if others < s.m.maxPerOwner {
			return append(es, add), nil
		}
		// The limit counts sessions, not the entries of ended ones.
		es = s.m.placeHolders(ctx, owner, es, now)
		var keep []ownerEntry
		room := s.m.maxPerOwner - 1         // for the others, beside this one
		for i := len(es) - 1; i >= 0; i-- { // newest first
			if e := es[i]; e.key == replaces || room > 0 {
				keep = append(keep, e)
				if e.key != replaces {
					room--
				}
			} else {
				evict = append(evict, e)
			}
		}
		if len(evict) > 0 && s.m.overLimit == RefuseNew {
			return nil, ErrTooManySessions
		}
		slices.Reverse(keep)
		return append(keep, add), nil
	})
	if err != nil {
		return err
	}
	for _, e := range evict {
		if _, err := s.m.endSession(ctx, &s.trip, e.key, 0, ending{kind: EventEvicted, owner: owner}, s.trip.Req, false); err != nil {
			s.m.log.WarnContext(ctx, "sessiongen: could not end a session over the owner's limit; it left the owner's index, and ends when its next save finds that", "type", s.m.schema.Name, "session", s.m.logID(e.key), "err", err)
		}
	}
	return nil
}

// evicted reports whether the record in the way of this session's create
// is the retired record an eviction left there.
func (s *session) evicted(ctx context.Context) bool {
	rec, _, err := s.m.carrier.Load(ctx, &s.trip, s.id.key)
	return err == nil && retired(rec)
}

// placeHolders returns the entries of es that hold a place under the
// limit: live sessions that still name owner, and keys indexed moments
// ago whose record is not stored yet; an entry it cannot check (the
// store failed) stays.
func (m *Manager) placeHolders(ctx context.Context, owner string, es []ownerEntry, now time.Time) []ownerEntry {
	return slices.DeleteFunc(es, func(e ownerEntry) bool {
		if now.Unix()-e.added < int64(pendingEntry/time.Second) {
			return false
		}
		_, live, err := m.loadOwned(ctx, owner, e.key)
		return err == nil && !live
	})
}

// updateIndex applies change to an owner's index by compare-and-swap,
// after dropping entries past their deadline. It returns the entries
// that change was given the last time. An unreadable index is an error,
// or, with restart, replaced by what change makes of an empty one (a
// login must not be refused for it). Retries after the first two back
// off with jitter, so that many logins of one owner at once do not spin.
func (m *Manager) updateIndex(ctx context.Context, owner string, now time.Time, restart bool, change func([]ownerEntry) ([]ownerEntry, error)) ([]ownerEntry, error) {
	key := m.ownerKey(owner)
	var seen []ownerEntry
	err := m.retryRace(ctx, func(ctx context.Context) (bool, error) {
		es, ver, err := m.loadIndex(ctx, key)
		if errors.Is(err, errCorrupt) && restart {
			m.log.WarnContext(ctx, "sessiongen: an owner's index was unreadable; starting it again", "type", m.schema.Name, "err", err)
		} else if err != nil {
			return false, err
		}
		es = slices.DeleteFunc(es, func(e ownerEntry) bool { return e.deadline <= now.Unix() })
		seen = slices.Clone(es)
		if es, err = change(es); err != nil {
			return false, err
		}
		switch {
		case len(es) == 0 && ver != 0:
			// Emptied by compare-and-swap, not deleted: a session indexed
			// meanwhile must not be dropped from it.
			_, err = m.store.Save(ctx, key, encodeIndex(nil), ver, now.Add(time.Minute))
		case len(es) == 0:
		default:
			last := slices.MaxFunc(es, func(a, b ownerEntry) int { return int(a.deadline - b.deadline) })
			_, err = m.store.Save(ctx, key, encodeIndex(es), ver, time.Unix(last.deadline, 0))
		}
		if lostRace(err, ver) {
			return true, nil // another session of the owner was indexed meanwhile
		}
		if err != nil {
			return false, fmt.Errorf("sessiongen: save the owner's sessions: %w", err)
		}
		return false, nil
	})
	if errors.Is(err, errRaces) {
		err = fmt.Errorf("sessiongen: save the owner's sessions: %w", err)
	}
	if err != nil {
		return nil, err
	}
	return seen, nil
}

// retryRace runs attempt, a load, a change and a compare-and-swap of a
// record that requests share (an owner's index, an owner's revocations),
// again while it reports it lost the race to another writer, backing off
// with jitter after the first two tries so that many writers at once do
// not spin; after ownerIndexRetries it gives up with errRaces. It is one
// "index" operation for the Observer.
func (m *Manager) retryRace(ctx context.Context, attempt func(ctx context.Context) (again bool, err error)) (err error) {
	ctx, o := m.observe(ctx, opIndex)
	defer func() { m.observed(ctx, &o, err) }()
	for n := range ownerIndexRetries {
		if n >= 2 {
			time.Sleep(jitter(time.Millisecond << min(n-2, 5)))
		}
		o.op.Attempts = n + 1
		if again, err := attempt(ctx); !again {
			return err
		}
	}
	return errRaces
}

// errRaces is retryRace giving up. It matches ErrConflict.
var errRaces = fmt.Errorf("%w: lost every retry", ErrConflict)

// lostRace reports whether a compare-and-swap at ver failed because
// another writer came first (or removed a record that was there).
func lostRace(err error, ver uint64) bool {
	return errors.Is(err, ErrConflict) || errors.Is(err, ErrNotFound) && ver != 0
}

// loadIndex loads an owner's index and its version; a missing index is
// empty. An unreadable one is an error matching errCorrupt, with the
// version to overwrite it at.
func (m *Manager) loadIndex(ctx context.Context, key string) ([]ownerEntry, uint64, error) {
	rec, ver, err := m.store.Load(ctx, key)
	if errors.Is(err, ErrNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("sessiongen: load the owner's sessions: %w", err)
	}
	es, err := decodeIndex(rec)
	if err != nil {
		return nil, ver, fmt.Errorf("sessiongen: read the owner's sessions: %w", err)
	}
	return es, ver, nil
}

// loadOwned loads the session under key and reports whether it is live
// and still names owner, with its stamps.
func (m *Manager) loadOwned(ctx context.Context, owner, key string) (stamps, bool, error) {
	ctx, o := m.observe(ctx, opLoad)
	rec, _, err := m.store.Load(ctx, key)
	o.op.Bytes = len(rec)
	m.observed(ctx, &o, err)
	if errors.Is(err, ErrNotFound) {
		return stamps{}, false, nil
	}
	if err != nil {
		return stamps{}, false, fmt.Errorf("sessiongen: load an owner's session: %w", err)
	}
	who, st, ok := m.ownerOf(rec)
	return st, ok && who == owner, nil
}

// stamps are the times an owned session's record keeps: when its ID was
// issued, when a request last wrote it, and when one last used it.
type stamps struct{ issued, written, seen time.Time }

// owned loads the sessions an owner's index lists and returns those that
// are live and still name the owner.
func (m *Manager) owned(ctx context.Context, owner string, es []ownerEntry) ([]OwnedSession, error) {
	cur := ""
	if s := m.current(ctx); s != nil {
		s.mu.Lock()
		cur = s.id.key
		s.mu.Unlock()
	}
	var out []OwnedSession
	for _, e := range es {
		st, live, err := m.loadOwned(ctx, owner, e.key)
		if err != nil {
			return nil, err
		}
		if !live {
			continue
		}
		out = append(out, OwnedSession{Created: time.Unix(e.created, 0), Issued: st.issued, LastWrite: st.written, LastSeen: st.seen, Current: e.key == cur, key: e.key, owner: owner, m: m})
	}
	slices.SortStableFunc(out, func(a, b OwnedSession) int { return a.Created.Compare(b.Created) })
	return out, nil
}

// ownerOf decodes the owner field of a record, and its stamps.
func (m *Manager) ownerOf(rec []byte) (owner string, st stamps, ok bool) {
	h, fs, err := entries(rec)
	if err != nil || h.flags&flagForward != 0 {
		return "", st, false
	}
	_, d := m.newSession()
	if h.issued == 0 {
		h.issued = h.created
	}
	wrote, seen := h.issued, h.issued
	for _, f := range fs {
		if j, ok := m.index[string(f.Key)]; ok && j == m.schema.OwnerField {
			if err := m.decodeValue(d, m.schema.OwnerField, f.Val); err != nil {
				return "", st, false
			}
			continue
		}
		t, _, err := mp.ReadInt(f.Val, 0, 64)
		switch {
		case err != nil:
		case string(f.Key) == writtenKey:
			wrote = max(wrote, t)
		case string(f.Key) == seenKey:
			seen = max(seen, t)
		}
	}
	st = stamps{issued: time.Unix(h.issued, 0), written: time.Unix(wrote, 0), seen: time.Unix(max(seen, wrote), 0)}
	return m.schema.Owner(d), st, true
}

// writtenKey and seenKey are the keys under which the record of an owned
// session keeps the time of its last write and of its last use (a write,
// or a touch that wrote the record): keys no generated field can have
// (keys are printable), which other versions of the code keep as unknown
// fields.
const (
	writtenKey = "\x01written"
	seenKey    = "\x01seen"
)

// stamp sets, among the record's fields the schema does not know, the
// time of the last write (written) or of the last use (seen).
func (f *fields) stamp(now time.Time, written bool) {
	if written {
		f.set(writtenKey, mp.AppendInt(f.written[:0], now.Unix()))
	} else {
		f.set(seenKey, mp.AppendInt(f.seen[:0], now.Unix()))
	}
}

// set sets the unknown field key to val.
func (f *fields) set(key string, val []byte) {
	for i := range f.unknown {
		if string(f.unknown[i].Key) == key {
			f.unknown[i].Val = val
			return
		}
	}
	f.unknown = append(f.unknown, entry{Key: []byte(key), Val: val})
}

// requestOf returns the request whose session ctx carries, or nil.
func (m *Manager) requestOf(ctx context.Context) *http.Request {
	if s := m.current(ctx); s != nil {
		return s.trip.Req
	}
	return nil
}

// current returns the session of this manager that ctx carries, if any.
func (m *Manager) current(ctx context.Context) *session {
	d, _ := ctx.Value(m.ctxKey).(wire.Data)
	if d == nil {
		return nil
	}
	s, _ := m.schema.Handle(d).Bound().(*session)
	return s
}

// Sessions lists the live sessions whose owner field is owner, with
// their creation and last-write times, oldest first, for a "your
// devices" page; each can be ended. It costs a load of the owner's index
// and one per session listed. A session type without an owner field, or
// kept in cookies, is an error matching errors.ErrUnsupported.
func (m *Manager) Sessions(ctx context.Context, owner string) ([]OwnedSession, error) {
	if err := m.ownsSessions(); err != nil {
		return nil, err
	}
	if owner == "" {
		return nil, nil
	}
	ictx, o := m.observe(ctx, opIndex)
	es, _, err := m.loadIndex(ictx, m.ownerKey(owner))
	m.observed(ictx, &o, err)
	if err != nil {
		return nil, err
	}
	return m.owned(ctx, owner, es)
}

// LogoutAll ends every session whose owner field is owner, on every
// instance of the application that shares the store, the request's own
// included (call it after a password change, or for "log out
// everywhere"). It costs a load per listed session, a delete per live
// one, and a write of the owner's index. With sealed cookies, it needs
// cookiestore.WithRevocation: then it revokes every cookie of the owner
// issued until now. A session type without an owner field, or kept in
// cookies without revocation, is an error matching errors.ErrUnsupported.
func (m *Manager) LogoutAll(ctx context.Context, owner string) error {
	if m.store == nil && m.revoc != nil && m.schema.Owner != nil {
		if owner == "" {
			return nil
		}
		return m.logoutAllSealed(ctx, owner)
	}
	if err := m.ownsSessions(); err != nil {
		return err
	}
	if owner == "" {
		return nil
	}
	ended := map[string]bool{}
	var failed error
	_, err := m.updateIndex(ctx, owner, m.now(), false, func(es []ownerEntry) ([]ownerEntry, error) {
		live, err := m.owned(ctx, owner, slices.DeleteFunc(slices.Clone(es), func(e ownerEntry) bool { return ended[e.key] }))
		if err != nil {
			failed = err
			return es, nil
		}
		for _, o := range live {
			if err := o.end(ctx, false); err != nil {
				failed = err
				return es, nil
			}
			ended[o.key] = true
		}
		// Only what was ended leaves the index: an entry whose record
		// was not there may be a login under way, which indexes its key
		// before it stores its record; left in, its session is listed
		// once stored, and a later LogoutAll ends it. Entries of sessions
		// that ended anyway go at their deadline, or at the cap.
		return slices.DeleteFunc(es, func(e ownerEntry) bool { return ended[e.key] }), nil
	})
	return errors.Join(failed, err)
}
