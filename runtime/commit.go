package runtime

import "time"

// commit runs when the response headers are about to leave: it saves the
// session and sets or expires the cookie. A session the handler never
// touched costs nothing. On a store error the error handler answers
// instead of the handler, and the cookie is left as it was.
func (s *session) commit() {
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
	s.m.stats.failed.Add(1)
	s.m.errorHandler(s.w.ResponseWriter, s.req, err)
}

// setCookie sends the cookie the browser should now hold: when the ID
// changed, when a persistent cookie's expiry moved with the session's, and
// on every response with Config.Rolling. Call with the lock held.
func (s *session) setCookie() {
	if s.jar != nil {
		maxAge := 0
		if s.stored && s.persistent {
			now := s.m.now()
			maxAge = max(1, int(s.m.expiry(s.created, now).Sub(now)/time.Second))
		}
		s.jar.setCookies(s.w.Header(), maxAge, s.m.secure(s.req))
		return
	}
	want := ""
	if s.stored {
		want = s.id
	}
	resend := want != "" && (s.m.rolling || s.persistent && s.extended || s.resend)
	if want == s.cookieID && !resend {
		return
	}
	maxAge := 0
	if want != "" && s.persistent {
		now := s.m.now()
		maxAge = max(1, int(s.m.expiry(s.created, now).Sub(now)/time.Second))
	}
	s.m.setCookie(s.w.Header(), want, maxAge, s.m.secure(s.req))
	s.cookieID, s.resend = want, false
}

// finish runs after the handler returned. Changes made after the headers
// left are saved when they need no new cookie, and logged when they do.
func (s *session) finish() {
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
	if s.jar != nil {
		// The session is the cookie, and the headers are gone.
		s.m.log.WarnContext(ctx, "sessiongen: session changed after the response headers were sent; with sessions in cookies no change can be saved then. Change the session before writing the response.", "type", s.m.schema.Name)
		return
	}
	if write && (s.id == "" || s.id != s.cookieID) {
		s.m.log.WarnContext(ctx, "sessiongen: session changed after the response headers were sent; the change needs a new cookie and was not saved. Change the session before writing the response.", "type", s.m.schema.Name)
		if s.mustWrite || s.oldKey == "" {
			return // a late Regenerate or a new session: keep what the browser holds working
		}
		s.saved() // a late Destroy: drop the changes, still delete the old record
	}
	if err := s.flush(ctx, false); err != nil {
		s.m.log.ErrorContext(ctx, "sessiongen: saving session after the response failed", "type", s.m.schema.Name, "err", err)
	}
}
