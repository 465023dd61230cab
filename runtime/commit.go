package runtime

import (
	"context"
	"time"

	"github.com/sessiongen/sessiongen/runtime/internal/carry"
)

// commit runs when the response headers are about to leave: it saves the
// session and sets or expires the cookie. A session the handler never
// touched costs nothing. On a store error the error handler answers
// instead of the handler, and the cookie is left as it was.
func (s *session) commit() {
	s.mu.Lock()
	if s.state.has(sent) {
		s.mu.Unlock()
		return
	}
	s.state |= sent
	if !s.state.has(loaded) {
		s.mu.Unlock()
		return
	}
	err := s.flush(&s.bg, false)
	if err == nil {
		s.m.carrier.Send(s.w.Header(), &s.trip, s.cookie())
		s.mu.Unlock()
		return
	}
	s.state |= replaced
	s.mu.Unlock()
	s.m.stats.failed.Add(1)
	s.m.errorHandler(s.w.ResponseWriter, s.trip.Req, err)
}

// cookie is what the browser should hold once the response arrives: the
// session's ID when a record is stored under it, with a Max-Age when the
// session is persistent. Call with the lock held.
func (s *session) cookie() carry.Cookie {
	c := carry.Cookie{Secure: s.m.secure(s.trip.Req)}
	if !s.base.stored {
		return c
	}
	c.ID = s.id.id
	if s.persistent() {
		now := s.m.now()
		c.MaxAge = max(1, int(s.m.expiry(s.base.hdr.created, now).Sub(now)/time.Second))
	}
	return c
}

// finish runs after the handler returned. Changes made after the headers
// left are saved when they need no new cookie, and logged when they do.
func (s *session) finish() {
	if !s.state.has(sent) {
		s.commit()
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state.has(replaced) || !s.state.has(loaded) || s.base.err != nil {
		return
	}
	s.detectInPlace()
	write := s.chg.pending()
	if !write && s.chg.drop == "" {
		return
	}
	ctx := context.Context(&s.bg)
	if write && (s.id.id == "" || s.id.id != s.trip.CookieID) {
		s.m.log.WarnContext(ctx, "sessiongen: session changed after the response headers were sent; the change needs a new cookie and was not saved. Change the session before writing the response.", "type", s.m.schema.Name)
		if s.chg.rewrite || s.chg.drop == "" {
			return // a late Regenerate or a new session: keep what the browser holds working
		}
		s.chg.saved() // a late Destroy: drop the changes, still delete the old record
	}
	if err := s.flush(ctx, false); err != nil {
		s.m.log.ErrorContext(ctx, "sessiongen: saving session after the response failed", "type", s.m.schema.Name, "err", err)
	}
}
