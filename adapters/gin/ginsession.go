// Package ginsession lets gin's router.Use take a sessiongen manager's
// middleware, with commit-on-write intact: the session is saved before
// the response headers leave, whichever way the handler writes them
// (c.String, c.JSON, c.Status, c.Writer.WriteHeaderNow…).
//
//	sessions, _ := shop.NewVisitManager(cfg)
//	router := gin.New()
//	router.Use(ginsession.Middleware(sessions))
//	router.GET("/", func(c *gin.Context) {
//		v := shop.VisitFrom(c.Request.Context())
//		c.String(200, v.Email())
//	})
//
// It lives in a module of its own, so that sessiongen does not depend on
// gin.
package ginsession

import (
	"bufio"
	"net"
	"net/http"

	"github.com/gin-gonic/gin"
)

// Manager is what a generated session manager offers: NewVisitManager's
// *VisitManager, for example.
type Manager interface {
	Middleware(http.Handler) http.Handler
}

// Middleware returns a gin handler that runs the rest of the chain inside
// m's middleware: handlers find the session in c.Request.Context(), and
// what they write goes through the session's writer, which saves the
// session before the headers leave.
func Middleware(m Manager) gin.HandlerFunc {
	return func(c *gin.Context) {
		orig := c.Writer
		m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c.Request = r
			c.Writer = &writer{ResponseWriter: orig, session: w}
			c.Next()
			// gin sends a status set with c.Status only when the handler
			// returns; send it here, through the session's writer.
			if !orig.Written() && c.Writer.Status() != http.StatusOK {
				c.Writer.WriteHeaderNow()
			}
		})).ServeHTTP(orig, c.Request)
		c.Writer = orig
	}
}

// writer is gin's writer with the writing routed through the session's
// writer (which wraps gin's, so gin still counts the status and size).
type writer struct {
	gin.ResponseWriter
	session http.ResponseWriter
	status  int
}

func (w *writer) Header() http.Header { return w.session.Header() }

func (w *writer) WriteHeader(code int) {
	// Like gin, remember the status and send it with the first write.
	if code > 0 && !w.ResponseWriter.Written() {
		w.status = code
	}
}

func (w *writer) Status() int {
	if w.status != 0 && !w.ResponseWriter.Written() {
		return w.status
	}
	return w.ResponseWriter.Status()
}

func (w *writer) WriteHeaderNow() {
	if !w.ResponseWriter.Written() {
		w.session.WriteHeader(w.Status())
	}
}

func (w *writer) Write(b []byte) (int, error) {
	w.WriteHeaderNow()
	return w.session.Write(b)
}

func (w *writer) WriteString(s string) (int, error) { return w.Write([]byte(s)) }

func (w *writer) Flush() {
	w.WriteHeaderNow()
	http.NewResponseController(w.session).Flush()
}

func (w *writer) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(w.session).Hijack()
}

// Unwrap lets http.ResponseController reach the session's writer.
func (w *writer) Unwrap() http.ResponseWriter { return w.session }
