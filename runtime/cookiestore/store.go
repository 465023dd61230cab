// Package cookiestore keeps each session in its own cookie, sealed: no
// server-side store at all, and sessions survive every restart.
//
//	store, err := cookiestore.New()
//	sessions, err := shop.NewVisitManager(runtime.Config{Store: store, Secrets: secrets})
//
// Switching from a server-side store is that one line. The session's
// record (as the generated codec writes it), its ID and its idle deadline
// are encrypted and authenticated with XChaCha20-Poly1305 under keys
// derived (HKDF-SHA256) from Config.Secrets, bound to this purpose and to
// the cookie's name: the first secret seals, all open, so secrets rotate
// as they do for signing. A session larger than one cookie holds is cut
// over chunk cookies (name.0, name.1, …), set and expired together.
//
// Its limits, which no client-side session escapes: two overlapping
// requests of one visitor each send back a whole cookie, and the browser
// keeps the last (there is no server to merge fields on, so fields tagged
// conflict=error are refused when the manager is made); Destroy expires
// the cookie in this browser but cannot revoke a copy someone stole, which
// opens until its idle deadline, moved by every use of the copy, and at
// most until the session's absolute lifetime, so both defaults are short
// here (DefaultIdleTimeout, DefaultLifetime); the holder of an older
// cookie of the same session can replay it within those bounds (a
// demoted user, the cookie from before the demotion); Config.RenewAfter
// does not apply (the ID is inside the seal).
package cookiestore

import (
	"fmt"
	"net/http"
	"time"

	"github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/internal/carry"
	"github.com/sessiongen/sessiongen/runtime/internal/seal"
)

// Defaults for the options.
const (
	// DefaultMaxChunks is how many cookies a session may take.
	DefaultMaxChunks = 4
	// ChunkSize is the bytes of value one cookie holds, under the 4,096
	// bytes browsers keep per cookie with room for its name and attributes.
	ChunkSize = 3800
	// DefaultLifetime applies when Config.Lifetime is zero: however
	// often a stolen copy of the cookie is used (each use seals it again
	// with a new idle deadline), it stops opening this long after the
	// session began.
	DefaultLifetime = 2 * time.Hour
	// DefaultIdleTimeout applies when Config.IdleTimeout is zero: a stolen
	// copy of the cookie works until then.
	DefaultIdleTimeout = 15 * time.Minute
)

// Store keeps sessions in cookies. It is not a runtime.Store (there is
// nothing server-side to load or save): set it as runtime.Config.Store,
// and the manager keeps its sessions in the cookies.
type Store struct {
	maxChunks int
	idle      time.Duration
	lifetime  time.Duration
	revoked   runtime.Store
	cache     time.Duration
}

// An Option configures New.
type Option func(*Store)

// WithMaxChunks sets how many cookies a session may take (default 4, at
// most 16). A save that needs more fails, and the previous cookies stay.
func WithMaxChunks(n int) Option { return func(s *Store) { s.maxChunks = n } }

// WithIdleTimeout sets the idle timeout used when Config.IdleTimeout is
// zero (default DefaultIdleTimeout).
func WithIdleTimeout(d time.Duration) Option { return func(s *Store) { s.idle = d } }

// WithLifetime sets the absolute lifetime used when Config.Lifetime is
// zero (default DefaultLifetime).
func WithLifetime(d time.Duration) Option { return func(s *Store) { s.lifetime = d } }

// WithRevocation makes LogoutAll and Destroy reach sealed cookies: store,
// a server-side store (Redis, PostgreSQL, …), keeps a small record per
// owner of the sessions that no longer open, and an owned session is
// checked against it when it opens (through a cache: see
// WithRevocationCache). Only a session type with an owner field can be
// revoked. Without it, a sealed cookie opens until it expires, whatever
// the server does, and LogoutAll is an error matching
// errors.ErrUnsupported.
func WithRevocation(store runtime.Store) Option { return func(s *Store) { s.revoked = store } }

// WithRevocationCache sets how long an instance trusts what it read of
// an owner's revocations: a revoked cookie may still open on another
// instance for at most that long. 0 reads them on every request of an
// owned session. Default: DefaultRevocationCache.
func WithRevocationCache(d time.Duration) Option { return func(s *Store) { s.cache = d } }

// DefaultRevocationCache is WithRevocationCache's default.
const DefaultRevocationCache = 5 * time.Second

// New returns a cookie store.
func New(opts ...Option) (*Store, error) {
	s := &Store{maxChunks: DefaultMaxChunks, idle: DefaultIdleTimeout, lifetime: DefaultLifetime, cache: DefaultRevocationCache}
	for _, o := range opts {
		o(s)
	}
	if s.maxChunks < 1 || s.maxChunks > 16 {
		return nil, fmt.Errorf("cookiestore: WithMaxChunks(%d): between 1 and 16", s.maxChunks)
	}
	if s.idle < time.Second {
		return nil, fmt.Errorf("cookiestore: WithIdleTimeout(%v): at least a second", s.idle)
	}
	if s.lifetime < time.Second {
		return nil, fmt.Errorf("cookiestore: WithLifetime(%v): at least a second", s.lifetime)
	}
	if s.cache < 0 {
		return nil, fmt.Errorf("cookiestore: WithRevocationCache(%v): not negative", s.cache)
	}
	return s, nil
}

// Carrier implements the runtime's side of the store: runtime.NewManager
// calls it once, with the cookie's attributes and Config.Secrets.
func (s *Store) Carrier(cookie http.Cookie, secrets [][]byte) (carry.Carrier, carry.Defaults, error) {
	def := carry.Defaults{IdleTimeout: s.idle, Lifetime: s.lifetime, RevocationCache: s.cache}
	if s.revoked != nil {
		def.Revocations = s.revoked
	}
	sl, err := seal.New(cookie.Name, secrets, s.maxChunks*ChunkSize)
	if err != nil {
		return nil, def, err
	}
	return &carrier{sealer: sl, cookie: cookie, maxChunks: s.maxChunks}, def, nil
}
