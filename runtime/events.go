package runtime

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/sessiongen/sessiongen/runtime/internal/carry"
)

// An EventKind says what happened to a session.
type EventKind uint8

// The kinds of Event.
const (
	// EventCreated: a new session's first save.
	EventCreated EventKind = iota + 1
	// EventRegenerated: Regenerate, or the setter of a field tagged
	// renew, moved the session's data to a new ID.
	EventRegenerated
	// EventRenewed: Config.RenewAfter gave the session a new ID.
	EventRenewed
	// EventDestroyed: Destroy, LogoutAll or OwnedSession.End ended the
	// session; one event per session ended.
	EventDestroyed
	// EventEvicted: the per-owner limit (Config.MaxSessionsPerOwner)
	// ended the session to make room for a newer one.
	EventEvicted
	// EventExpired: a request found the session past its Lifetime, and
	// ended it. (A session the store let expire is gone before the runtime
	// sees it.)
	EventExpired
)

var eventNames = [...]string{"", "created", "regenerated", "renewed", "destroyed", "evicted", "expired"}

// String returns the kind's name: "created", "destroyed", ….
func (k EventKind) String() string {
	if int(k) < len(eventNames) && k != 0 {
		return eventNames[k]
	}
	return fmt.Sprintf("EventKind(%d)", uint8(k))
}

// An Event is a change in a session's life, reported to Config.OnEvent
// once the store confirmed it, and once across every instance of the
// application sharing the store.
type Event struct {
	Kind EventKind
	// Key is the session's store key, never its ID: an event may be
	// logged or sent on.
	Key string
	// Owner is the value of the session's owner field, for a type that
	// has one ("" when the session has no owner).
	Owner string
	At    time.Time
	// Request is the request that made the change; nil for one made
	// outside a request (LogoutAll called from a job).
	Request *http.Request
}

// emit reports an event to Config.OnEvent, if set. A hook that panics is
// recovered and logged.
func (m *Manager) emit(ctx context.Context, kind EventKind, key, owner string, req *http.Request) {
	if m.onEvent == nil {
		return
	}
	defer func() {
		if p := recover(); p != nil {
			m.log.ErrorContext(ctx, "sessiongen: Config.OnEvent panicked", "type", m.schema.Name, "event", kind.String(), "session", m.logID(key), "panic", fmt.Sprint(p))
		}
	}()
	m.onEvent(ctx, Event{Kind: kind, Key: key, Owner: owner, At: m.now(), Request: req})
}

// expired reports a record the store removed as expired (a sweeper, a
// pruner): a session's, not an owner's index or revocations, nor what an
// ID change left behind.
func (m *Manager) expired(ctx context.Context, key string, rec []byte) {
	if len(key) != idLen {
		return
	}
	if a, ok := m.store.(*atRest); ok {
		rec = a.opened(key, rec)
	}
	h, _, err := readHeader(rec)
	if err != nil || h.flags&(flagForward|flagRetired) != 0 {
		return
	}
	owner := ""
	if m.schema.Owner != nil {
		owner, _, _ = m.ownerOf(rec)
	}
	m.emit(ctx, EventExpired, key, owner, nil)
}

// errUnindex wraps endSession's failure to take an ended session out of
// its owner's index: the session ended all the same.
var errUnindex = errors.New("remove the ended session from its owner's index")

// endSession ends the session under key, as e says why, reports e.kind
// if this call ended it, and frees what a destroyed owned session held:
// its place in the owner's index (unindex; LogoutAll and the limit take
// it out in their own index write), or, for a sealed cookie with
// revocations, the cookie itself, which a copy would still open. req is
// the request that ends it, or nil.
func (m *Manager) endSession(ctx context.Context, t *carry.Trip, key string, ver uint64, e ending, req *http.Request, unindex bool) (bool, error) {
	ended, err := m.end(ctx, t, key, ver, e.kind == EventEvicted)
	if err != nil || !ended {
		return ended, err
	}
	m.emit(ctx, e.kind, key, e.owner, req)
	if e.kind != EventDestroyed || e.owner == "" {
		return true, nil
	}
	switch {
	case m.revoc != nil:
		now := m.now()
		until := now.Add(m.lifetime).Unix()
		if err := m.revoke(ctx, e.owner, now, func(rv *revoked) {
			rv.keys = append(rv.keys, revokedKey{key: key, until: until})
		}); err != nil {
			return true, fmt.Errorf("sessiongen: revoke the session: %w", err)
		}
	case unindex && m.keepsOwners():
		if err := m.unindex(ctx, e.owner, key); err != nil {
			return true, fmt.Errorf("sessiongen: %w: %w", errUnindex, err)
		}
	}
	return true, nil
}

// end ends the record under key, and reports whether this call ended it:
// with no hook set, a delete; with one, a compare-and-swap to a retired
// record first (at ver, or at the version a load finds when ver is 0), so
// that of two requests ending one session, on any instance, exactly one
// reports it. A record already gone or retired was ended by someone else;
// but with evict (an owner's session over the limit), a missing record
// gets a retired one in its place, so that the login still storing it
// finds its create refused (write sees why). t is the request's trip, or
// nil outside a request (the signed-ID carrier, the only one with
// sessions to end from outside, needs none).
func (m *Manager) end(ctx context.Context, t *carry.Trip, key string, ver uint64, evict bool) (bool, error) {
	c := m.carrier
	if m.onEvent != nil || evict {
		for attempt := 0; ; attempt++ {
			if ver == 0 {
				rec, v, err := c.Load(ctx, t, key)
				if errors.Is(err, ErrNotFound) && evict {
					_, err = c.Save(ctx, t, key, retiredRecord(), 0, m.now().Add(m.renewGrace))
					if err == nil {
						return true, nil
					}
					if errors.Is(err, ErrConflict) && attempt < maxSaveAttempts {
						continue // stored meanwhile: end it
					}
					return false, err
				}
				if errors.Is(err, ErrNotFound) || err == nil && retired(rec) {
					return false, nil
				}
				if err != nil {
					return false, err
				}
				ver = v
			}
			err := c.Retire(ctx, t, key, ver, m.now().Add(m.renewGrace))
			if errors.Is(err, ErrNotFound) {
				return false, nil
			}
			if errors.Is(err, ErrConflict) && attempt < maxSaveAttempts {
				ver = 0 // written meanwhile: end what is there now
				continue
			}
			if err != nil {
				return false, err
			}
			break
		}
	}
	if err := c.Delete(ctx, t, key); err != nil && !errors.Is(err, ErrNotFound) {
		return false, err
	}
	return true, nil
}
