package runtime

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
)

// errReplaced is what a handler's writes return once the error handler
// has answered in its place.
var errReplaced = errors.New("sessiongen: response replaced by the session error handler")

// writer commits the session when the response headers are about to be
// sent: on the first WriteHeader, Write, Flush or ReadFrom. It buffers
// nothing, and Unwrap keeps http.ResponseController working.
type writer struct {
	http.ResponseWriter
	s *session
}

// WriteHeader commits the session first, except for 1xx responses.
func (w *writer) WriteHeader(code int) {
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		w.ResponseWriter.WriteHeader(code) // informational: the real headers come later
		return
	}
	w.s.commit()
	if !w.s.state.has(replaced) {
		w.ResponseWriter.WriteHeader(code)
	}
}

// Write commits the session before the first byte.
func (w *writer) Write(p []byte) (int, error) {
	w.s.commit()
	if w.s.state.has(replaced) {
		return 0, errReplaced
	}
	return w.ResponseWriter.Write(p)
}

// ReadFrom keeps io.Copy's sendfile path.
func (w *writer) ReadFrom(r io.Reader) (int64, error) {
	w.s.commit()
	if w.s.state.has(replaced) {
		return 0, errReplaced
	}
	return io.Copy(w.ResponseWriter, r)
}

// Flush implements http.Flusher.
func (w *writer) Flush() { _ = w.FlushError() }

// FlushError is what http.ResponseController.Flush calls.
func (w *writer) FlushError() error {
	w.s.commit()
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack implements http.Hijacker for code that asserts it (WebSocket
// libraries): the session is saved first, since no response will follow.
func (w *writer) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w.s.commit()
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

// Unwrap returns the wrapped writer, for http.ResponseController.
func (w *writer) Unwrap() http.ResponseWriter { return w.ResponseWriter }
