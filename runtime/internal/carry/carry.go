// Package carry is the contract between package runtime and the ways a
// session travels between requests. A manager picks one Carrier when it
// is made: the runtime's own, a signed-ID cookie in front of a
// server-side store, or runtime/cookiestore's, the whole session sealed
// in the cookies. The save path runs the same over either.
//
// It lives under runtime/internal so that runtime/cookiestore can
// implement it while no user can: a program that does not use the
// cookie store does not link its cryptography.
package carry

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"sync"
	"time"
)

// A Carrier moves a session's record between requests: what the store
// operations of a server-side Store are to the record, and what the
// cookie is to the ID. Its methods act for one request, whose own state
// they keep in that request's Trip. Store keys are derived from the
// session ID, as for a Store.
type Carrier interface {
	// Open reads the session ID that t.Req's cookies carry into
	// t.CookieID ("" for none). bad counts the session cookies that did
	// not verify; ambiguous is true when they carried two different
	// valid IDs, which count as none.
	Open(t *Trip, now time.Time) (bad int, ambiguous bool)
	// Load, Save, Touch and Delete have the meaning and the errors of
	// the runtime's Store methods of those names.
	Load(ctx context.Context, t *Trip, key string) (rec []byte, version uint64, err error)
	Save(ctx context.Context, t *Trip, key string, rec []byte, version uint64, expiry time.Time) (uint64, error)
	Touch(ctx context.Context, t *Trip, key string, expiry time.Time) error
	Delete(ctx context.Context, t *Trip, key string) error
	// Retire ends the record under key, the old ID of a session that
	// Regenerate moved to a new one, if its version is still version:
	// with the errors of Save, ErrConflict when another write came first
	// and ErrNotFound when the record is gone. A Carrier whose records
	// travel whole in the response has nothing to retire and returns nil.
	Retire(ctx context.Context, t *Trip, key string, version uint64, expiry time.Time) error
	// Send adds to h the Set-Cookie lines that bring the browser up to
	// date with c. The runtime calls it once, when the response headers
	// are about to leave; a Carrier whose cookies hold the record then
	// refuses any further change.
	Send(h http.Header, t *Trip, c Cookie)
}

// A Trip is one request's business with its Carrier. It lives inside the
// runtime's per-request session, so it costs no allocation of its own.
type Trip struct {
	Req *http.Request // the request
	// CookieID is the verified ID the request's cookies carried ("" for
	// none), and, once Send ran, the ID the browser holds.
	CookieID string
	// Resend asks Send to send the cookie again even though the ID did
	// not change: its attributes or its expiry changed.
	Resend bool
	// Own is the Carrier's own state for the request, if it needs any.
	Own any
}

// Cookie is what the browser should hold once the response arrives.
type Cookie struct {
	ID     string // the session's ID; "" when the session has no record (expire the cookie)
	MaxAge int    // seconds; 0 for a browser-session cookie
	Secure bool   // the Secure attribute, decided for this request
}

// A Maker is a value a user sets as runtime.Config.Store that is no
// server-side store but a Carrier of its own (runtime/cookiestore's
// Store). The runtime calls Carrier once, when a manager is made.
type Maker interface {
	// Carrier returns the Carrier for a cookie with the attributes of
	// cookie (all but its value) and the manager's secrets, and the
	// defaults that apply where the Config gives none.
	Carrier(cookie http.Cookie, secrets [][]byte) (Carrier, Defaults, error)
}

// Defaults are a Carrier's own defaults for the Config's timeouts, and
// where it keeps revocations, if it does.
type Defaults struct {
	IdleTimeout time.Duration
	Lifetime    time.Duration
	// Revocations, if set, is a server-side store (a runtime.Store) that
	// keeps, per owner, which sessions no longer open: LogoutAll and
	// Destroy write it, and a session is checked against it when it
	// opens, through a cache of RevocationCache.
	Revocations     Store
	RevocationCache time.Duration
}

// Store is the part of a runtime.Store the revocations use.
type Store interface {
	Load(ctx context.Context, key string) (rec []byte, version uint64, err error)
	Save(ctx context.Context, key string, rec []byte, version uint64, expiry time.Time) (uint64, error)
}

// StoreKey derives the store key from a session ID: base64url(SHA-256(id)).
// The store never sees the ID itself, and the key is always 43 legal bytes.
func StoreKey(id string) string {
	var in [idLen]byte // []byte(id) would allocate: IDs are over 32 bytes
	d := sha256.Sum256(append(in[:0], id...))
	var out [idLen]byte
	base64.RawURLEncoding.Encode(out[:], d[:])
	return string(out[:])
}

// idLen is the length of a session ID: 32 random bytes in base64url.
const idLen = 43

// An ExpiryReporter is a store that can tell which records it removed as
// expired (a sweeper, a pruner), once each across the instances sharing
// it. A manager with Config.OnEvent registers with it, to report
// EventExpired; the returned function unregisters.
type ExpiryReporter interface {
	ReportExpired(f func(ctx context.Context, key string, rec []byte)) (stop func())
}

// Reporters is what an ExpiryReporter keeps: the functions registered.
// Its zero value is ready; it is safe for concurrent use.
type Reporters struct {
	mu sync.Mutex
	fs map[int]func(ctx context.Context, key string, rec []byte)
	n  int
}

// Add registers f and returns the function that unregisters it.
func (r *Reporters) Add(f func(ctx context.Context, key string, rec []byte)) (stop func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fs == nil {
		r.fs = map[int]func(context.Context, string, []byte){}
	}
	r.n++
	id := r.n
	r.fs[id] = f
	return func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		delete(r.fs, id)
	}
}

// Any reports whether a function is registered: a store asks before it
// does the extra work of reading back what it removes.
func (r *Reporters) Any() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.fs) > 0
}

// Removed is a record a sweeper or pruner removed as expired.
type Removed struct {
	Key string
	Rec []byte
}

// ReportAll reports every record in removed, once the removal is done.
func (r *Reporters) ReportAll(ctx context.Context, removed []Removed) {
	for _, g := range removed {
		r.Report(ctx, g.Key, g.Rec)
	}
}

// Report calls every registered function with a removed record.
func (r *Reporters) Report(ctx context.Context, key string, rec []byte) {
	r.mu.Lock()
	fs := make([]func(context.Context, string, []byte), 0, len(r.fs))
	for _, f := range r.fs {
		fs = append(fs, f)
	}
	r.mu.Unlock()
	for _, f := range fs {
		f(ctx, key, rec)
	}
}
