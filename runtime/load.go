package runtime

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sessiongen/sessiongen/runtime/internal/mp"
)

// load reads the record the request's cookie points to. Call with the lock held.
func (s *session) load(ctx context.Context) {
	s.state |= loaded
	now := s.m.now() // once: a clock read costs more than the rest of a cookie check
	bad, ambiguous := s.m.carrier.Open(&s.trip, now)
	s.m.stats.badCookies.Add(uint64(bad))
	if ambiguous {
		s.m.stats.ambiguous.Add(1)
		s.m.log.WarnContext(ctx, "sessiongen: request carries two validly signed session cookies; ignoring both", "type", s.m.schema.Name)
	}
	if s.trip.CookieID == "" {
		return
	}
	// An ID renewed moments ago (Config.RenewAfter) is followed, once,
	// and this response hands the browser the new cookie.
	id, key, rec, ver, err := loadFollowing(ctx, s.m.carrier, &s.trip, s.trip.CookieID, now, s.m.renewGrace)
	switch {
	case errors.Is(err, ErrNotFound):
		s.m.stats.unknownIDs.Add(1)
		return // strict: an unknown ID is never adopted; a new one is issued if needed
	case err != nil:
		s.base.err = fmt.Errorf("sessiongen: load session: %w", err)
		return
	}
	hdr, err := s.base.open(rec, s.m.schema.Keys, s.m.index)
	if err == nil && now.Unix()-hdr.created >= int64(s.m.lifetime/time.Second) {
		err = errExpired
	}
	if err != nil {
		if err != errExpired {
			s.dropRecord(ctx, key, err)
		} else if s.m.onEvent != nil {
			s.chg.ended = ending{kind: EventExpired}
			if s.m.schema.Owner != nil {
				s.chg.ended.owner, _, _ = s.m.ownerOf(rec)
			}
		}
		mp.Zero(s.data)
		s.chg.drop, s.chg.dropVer = key, ver
		return
	}
	s.id.setKeyed(id, key)
	s.base.hdr, s.base.ver, s.base.rec, s.base.stored = hdr, ver, rec, true
	if s.m.revoc != nil && s.m.schema.Owner != nil {
		gone, err := s.isRevoked(ctx, key, now)
		switch {
		case err != nil:
			s.base.err = fmt.Errorf("sessiongen: load session: %w", err)
		case gone:
			// Revoked (LogoutAll, or a Destroy of this session): no
			// session, and the cookie goes.
			s.m.stats.unknownIDs.Add(1)
			s.empty()
			s.chg.drop = key
		}
	}
}

// errExpired is a loaded record past its absolute lifetime.
var errExpired = errors.New("sessiongen: session past its lifetime")

// recoverDecoder treats a decoder's panic (a buggy custom decoder, most
// likely) as a corrupt record: the session starts afresh and the record
// is deleted at the next save. The fields the handler read before stay
// as it read them, in its own variables.
func (s *session) recoverDecoder() {
	p := recover()
	if p == nil {
		return
	}
	s.dropRecord(&s.bg, s.id.key, fmt.Errorf("%w: decoder panicked: %v", errCorrupt, p))
	if s.base.stored {
		s.chg.drop = s.id.key
	}
	s.empty()
}

// dropRecord counts and logs a record that cannot be read.
func (s *session) dropRecord(ctx context.Context, key string, err error) {
	s.m.stats.corrupt.Add(1)
	s.m.log.ErrorContext(ctx, "sessiongen: dropping unreadable session record", "type", s.m.schema.Name, "session", s.m.logID(key), "err", err)
}
