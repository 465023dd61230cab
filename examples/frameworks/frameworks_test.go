// Package frameworks shows sessiongen's middleware under chi, echo and
// gin, and tests that sessions work there as under net/http: the session
// is in the request context, and it is saved before the headers leave.
package frameworks

import (
	"bytes"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/go-chi/chi/v5"
	"github.com/labstack/echo/v4"
	"github.com/sessiongen/sessiongen/adapters/gin"
	"github.com/sessiongen/sessiongen/examples/frameworks/shop"
	"github.com/sessiongen/sessiongen/runtime"
)

func newManager(t *testing.T) *shop.VisitManager {
	m, err := shop.NewVisitManager(runtime.Config{Secrets: [][]byte{bytes.Repeat([]byte("f"), 32)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// walk logs in, counts three views, and checks what the last one read,
// over TLS with a cookie jar, as a browser would.
func walk(t *testing.T, h http.Handler) {
	srv := httptest.NewTLSServer(h)
	defer srv.Close()
	c := srv.Client()
	c.Jar, _ = cookiejar.New(nil)
	get := func(path string) (*http.Response, string) {
		resp, err := c.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		return resp, b.String()
	}
	if resp, _ := get("/login"); resp.StatusCode != http.StatusNoContent || len(resp.Cookies()) != 1 {
		t.Fatalf("login: %d, cookies %v; want 204 and the session cookie", resp.StatusCode, resp.Cookies())
	}
	for range 2 {
		get("/view")
	}
	if _, body := get("/view"); body != "ada@example.com 3" {
		t.Fatalf("third view read %q, want the email and 3 views", body)
	}
	if resp, _ := get("/fail"); resp.StatusCode != http.StatusTeapot {
		t.Fatalf("failing handler: %d", resp.StatusCode)
	}
	if _, body := get("/view"); body != "ada@example.com 5" {
		t.Fatalf("after a handler that changed the session and failed: %q, want its change kept (5 views)", body)
	}
}

func view(v *shop.Visit) string {
	v.SetViews(v.Views() + 1)
	return v.Email() + " " + strconv.Itoa(v.Views())
}

// TestChi: r.Use takes the middleware as it is.
func TestChi(t *testing.T) {
	sessions := newManager(t)
	r := chi.NewRouter()
	r.Use(sessions.Middleware)
	r.Get("/login", func(w http.ResponseWriter, r *http.Request) {
		shop.VisitFrom(r.Context()).SetEmail("ada@example.com")
		w.WriteHeader(http.StatusNoContent)
	})
	r.Get("/view", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(view(shop.VisitFrom(r.Context()))))
	})
	r.Get("/fail", func(w http.ResponseWriter, r *http.Request) {
		view(shop.VisitFrom(r.Context()))
		http.Error(w, "no", http.StatusTeapot)
	})
	walk(t, r)
}

// TestEcho: echo.WrapMiddleware takes it. A handler that returns an error
// has its response written by echo's HTTPErrorHandler after the
// middleware chain returned: the session, saved when the handler
// returned, keeps the handler's changes, and the error response carries
// the cookie the session set.
func TestEcho(t *testing.T) {
	sessions := newManager(t)
	e := echo.New()
	e.Use(echo.WrapMiddleware(sessions.Middleware))
	e.GET("/login", func(c echo.Context) error {
		shop.VisitFrom(c.Request().Context()).SetEmail("ada@example.com")
		return c.NoContent(http.StatusNoContent)
	})
	e.GET("/view", func(c echo.Context) error {
		return c.String(http.StatusOK, view(shop.VisitFrom(c.Request().Context())))
	})
	e.GET("/fail", func(c echo.Context) error {
		view(shop.VisitFrom(c.Request().Context()))
		return echo.NewHTTPError(http.StatusTeapot, "no")
	})
	walk(t, e)
}

// TestGin: router.Use takes ginsession.Middleware, which keeps
// commit-on-write for gin's lazy writer (c.Status, c.String, c.JSON).
func TestGin(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	sessions := newManager(t)
	r := gin.New()
	r.Use(ginsession.Middleware(sessions))
	r.GET("/login", func(c *gin.Context) {
		shop.VisitFrom(c.Request.Context()).SetEmail("ada@example.com")
		c.Status(http.StatusNoContent)
	})
	r.GET("/view", func(c *gin.Context) {
		c.String(http.StatusOK, view(shop.VisitFrom(c.Request.Context())))
	})
	r.GET("/fail", func(c *gin.Context) {
		view(shop.VisitFrom(c.Request.Context()))
		c.AbortWithStatusJSON(http.StatusTeapot, gin.H{"error": "no"})
	})
	walk(t, r)
}
