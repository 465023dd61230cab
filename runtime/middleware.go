package runtime

import (
	"net/http"
)

// Middleware puts a session in the context of every request it serves
// (the generated XFrom function gets it back) and saves what changed
// before the response headers leave. A request that never uses its
// session costs no store call and sets no cookie.
func (m *Manager) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, d := m.newSession()
		m.schema.Handle(d).Bind(s)
		s.ctx = valueCtx{Context: r.Context(), key: m.ctxKey, val: d}
		r = r.WithContext(&s.ctx) // the context node lives in the session: no allocation of its own
		s.m, s.data, s.trip.Req = m, d, r
		s.bg.parent = &s.ctx
		s.w = writer{ResponseWriter: w, s: s}
		s.base.hdr.flags = m.flags
		next.ServeHTTP(&s.w, r)
		s.finish()
	})
}
