package runtime

import (
	"context"
	"net/http"
	"time"

	"github.com/sessiongen/sessiongen/runtime/internal/carry"
)

// signedCookie is how a session travels with a server-side Store: the
// cookie carries its ID, signed (cookie.go), and the record stays in the
// store under a key derived from the ID.
type signedCookie struct {
	m     *Manager // the cookie's attributes, signer and Rolling
	store Store
}

// Open verifies the request's session cookies.
func (c *signedCookie) Open(t *carry.Trip, _ time.Time) (bad int, ambiguous bool) {
	t.CookieID, bad, ambiguous = c.m.signer.idFromRequest(t.Req)
	return bad, ambiguous
}

// Load loads from the store.
func (c *signedCookie) Load(ctx context.Context, _ *carry.Trip, key string) ([]byte, uint64, error) {
	return c.store.Load(ctx, key)
}

// Save saves to the store.
func (c *signedCookie) Save(ctx context.Context, _ *carry.Trip, key string, rec []byte, ver uint64, expiry time.Time) (uint64, error) {
	return c.store.Save(ctx, key, rec, ver, expiry)
}

// Touch touches the record in the store.
func (c *signedCookie) Touch(ctx context.Context, _ *carry.Trip, key string, expiry time.Time) error {
	return c.store.Touch(ctx, key, expiry)
}

// Delete deletes from the store.
func (c *signedCookie) Delete(ctx context.Context, _ *carry.Trip, key string) error {
	return c.store.Delete(ctx, key)
}

// Retire replaces the old record, by compare-and-swap, with a retired
// record, which loads as not found and which no request follows.
func (c *signedCookie) Retire(ctx context.Context, _ *carry.Trip, key string, ver uint64, expiry time.Time) error {
	_, err := c.store.Save(ctx, key, retiredRecord(), ver, expiry)
	return err
}

// Send sets the cookie when the ID the browser holds changed, when its
// attributes or its expiry did (t.Resend), and on every response with
// Config.Rolling; it expires the cookie of a session that ended.
func (c *signedCookie) Send(h http.Header, t *carry.Trip, want carry.Cookie) {
	resend := want.ID != "" && (c.m.rolling || t.Resend)
	if want.ID == t.CookieID && !resend {
		return
	}
	c.m.setCookie(h, want.ID, want.MaxAge, want.Secure)
	t.CookieID, t.Resend = want.ID, false
}
