package runtime

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/sessiongen/sessiongen/runtime/internal/carry"
	"github.com/sessiongen/sessiongen/runtime/internal/mp"
)

// Revocation of sealed cookies (cookiestore.WithRevocation). A sealed
// cookie carries its whole session: the server cannot delete it, only
// refuse it. So a server-side store keeps, per owner, one small record:
// the time until which that owner's sessions were issued that no longer
// open (LogoutAll, to the millisecond), and the keys of sessions ended one by one (Destroy),
// each until its deadline. An owned sealed session is checked against it
// when it opens, through a per-instance cache of RevocationCache: a
// revoked cookie opens on an instance that read the record earlier for at
// most that long. An owned sealed record keeps when its ID was issued to
// the millisecond (issuedKey), so that a sign-in right after a LogoutAll
// is not caught by it.

// revocations is a manager's view of the revocation records.
type revocations struct {
	store carry.Store
	ttl   time.Duration
	mu    sync.Mutex
	cache map[string]revoked // by owner
}

// revoked is one owner's revocation record, as this instance read it.
type revoked struct {
	before int64        // unix ms: sessions issued until then no longer open
	keys   []revokedKey // sessions ended one by one
	read   time.Time    // when this instance read or wrote it
}

type revokedKey struct {
	key   string
	until int64 // unix seconds: past the session's lifetime, the entry goes
}

// issuedKey keeps, in an owned sealed record, when its ID was issued in
// unix milliseconds (the header has seconds).
const issuedKey = "\x01issued"

// revocationV1 is the format of a revocation record: this byte, then a
// msgpack array [before int, [[key string, until int], …]].
const revocationV1 = 0x01

func (r *revoked) encode() []byte {
	b := mp.AppendArrayLen(append(make([]byte, 0, 16+len(r.keys)*64), revocationV1), 2)
	b = mp.AppendArrayLen(mp.AppendInt(b, r.before), len(r.keys))
	for _, k := range r.keys {
		b = mp.AppendInt(mp.AppendString(mp.AppendArrayLen(b, 2), k.key), k.until)
	}
	return b
}

func decodeRevoked(rec []byte) (r revoked, err error) {
	if len(rec) == 0 || rec[0] != revocationV1 {
		return r, fmt.Errorf("%w: not a revocation record", errCorrupt)
	}
	i, err := mp.ReadArrayOf(rec, 1, 2)
	var n int
	if err == nil {
		if r.before, i, err = mp.ReadInt(rec, i, 64); err == nil {
			n, i, err = mp.ReadArrayLen(rec, i)
		}
	}
	if err == nil && (n < 0 || n > maxOwnedSessions*2) {
		err = fmt.Errorf("%d keys", n)
	}
	for ; err == nil && n > 0; n-- {
		var k revokedKey
		if i, err = mp.ReadArrayOf(rec, i, 2); err == nil {
			if k.key, i, err = mp.ReadString(rec, i); err == nil {
				k.until, i, err = mp.ReadInt(rec, i, 64)
			}
		}
		r.keys = append(r.keys, k)
	}
	if err != nil {
		return revoked{}, fmt.Errorf("%w: revocation record: %w", errCorrupt, err)
	}
	return r, nil
}

// revocationKey is the store key of an owner's revocation record.
func (m *Manager) revocationKey(owner string) string {
	d := sha256.Sum256([]byte("sessiongen revoked\x00" + m.schema.Name + "\x00" + owner))
	return "revoked-" + b64.EncodeToString(d[:])
}

// get returns owner's record, from the cache while it is fresh; when the
// store fails, what the cache holds, however old, or the error.
func (m *Manager) revokedFor(ctx context.Context, owner string, now time.Time) (revoked, error) {
	r := m.revoc
	r.mu.Lock()
	c, ok := r.cache[owner]
	r.mu.Unlock()
	if ok && now.Sub(c.read) < r.ttl {
		return c, nil
	}
	ctx, o := m.observe(ctx, opIndex)
	rec, _, err := r.store.Load(ctx, m.revocationKey(owner))
	m.observed(ctx, &o, err)
	var fresh revoked
	switch {
	case errors.Is(err, ErrNotFound):
	case err != nil && ok:
		return c, nil
	case err != nil:
		return revoked{}, fmt.Errorf("sessiongen: load the owner's revocations: %w", err)
	default:
		if fresh, err = decodeRevoked(rec); err != nil {
			m.log.ErrorContext(ctx, "sessiongen: an owner's revocation record is unreadable; treating it as empty", "type", m.schema.Name, "err", err)
		}
	}
	fresh.read = now
	m.remember(owner, fresh)
	return fresh, nil
}

// remember caches owner's record, keeping the cache bounded.
func (m *Manager) remember(owner string, rv revoked) {
	r := m.revoc
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.cache) >= 10_000 {
		clear(r.cache) // a burst of owners: read again
	}
	r.cache[owner] = rv
}

// revoke applies change to owner's revocation record by compare-and-swap.
func (m *Manager) revoke(ctx context.Context, owner string, now time.Time, change func(*revoked)) error {
	key := m.revocationKey(owner)
	err := m.retryRace(ctx, func(ctx context.Context) (bool, error) {
		rec, ver, err := m.revoc.store.Load(ctx, key)
		var rv revoked
		switch {
		case errors.Is(err, ErrNotFound):
			ver = 0
		case err != nil:
			return false, fmt.Errorf("sessiongen: load the owner's revocations: %w", err)
		default:
			if rv, err = decodeRevoked(rec); err != nil {
				rv = revoked{} // unreadable: start again, with this change
			}
		}
		change(&rv)
		rv.keys = slices.DeleteFunc(rv.keys, func(k revokedKey) bool { return k.until <= now.Unix() })
		// Every cookie issued before the lifetime ago has expired: the
		// record is of no use past now + Lifetime.
		_, err = m.revoc.store.Save(ctx, key, rv.encode(), ver, now.Add(m.lifetime))
		if lostRace(err, ver) {
			return true, nil
		}
		if err != nil {
			return false, fmt.Errorf("sessiongen: save the owner's revocations: %w", err)
		}
		rv.read = now
		m.remember(owner, rv)
		return false, nil
	})
	if errors.Is(err, errRaces) {
		return fmt.Errorf("sessiongen: save the owner's revocations: %w", err)
	}
	return err
}

// isRevoked reports whether the sealed session just opened, under key,
// is revoked. Call with the lock held, from load.
func (s *session) isRevoked(ctx context.Context, key string, now time.Time) (bool, error) {
	s.Need(s.m.schema.OwnerField)
	owner := s.m.schema.Owner(s.data)
	if owner == "" {
		return false, nil
	}
	rv, err := s.m.revokedFor(ctx, owner, now)
	if err != nil {
		return false, err
	}
	issued := s.base.hdr.issued * 1000
	for _, e := range s.base.fields.unknown {
		if string(e.Key) == issuedKey {
			if ms, _, err := mp.ReadInt(e.Val, 0, 64); err == nil {
				issued = ms
			}
		}
	}
	return issued <= rv.before || slices.ContainsFunc(rv.keys, func(k revokedKey) bool { return k.key == key }), nil
}

// logoutAllSealed is LogoutAll for sealed cookies with revocation: every
// session of owner issued until now no longer opens.
func (m *Manager) logoutAllSealed(ctx context.Context, owner string) error {
	now := m.now()
	err := m.revoke(ctx, owner, now, func(rv *revoked) { rv.before = max(rv.before, now.UnixMilli()) })
	if err != nil {
		return err
	}
	if s := m.current(ctx); s != nil {
		s.mu.Lock()
		mine := s.state.has(loaded) && s.base.stored && s.owner() == owner
		s.mu.Unlock()
		if mine {
			s.Destroy()
		}
	}
	return nil
}
