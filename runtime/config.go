package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/sessiongen/sessiongen/runtime/internal/carry"
)

// Config configures a session manager. Every field has a working default:
// a Config with only Secrets set serves secure, browser-session cookies
// from an in-memory store.
type Config struct {
	// Store is where sessions are kept: a Store, which keeps records
	// server-side under a signed ID that the cookie carries
	// (NewMemoryStore, or a package such as runtime/redis), or
	// runtime/cookiestore's Store, which keeps each session sealed in its
	// cookies. Default: a new in-memory store, closed by the manager's
	// Close.
	Store Backend

	// Secrets sign the session cookie with HMAC-SHA256. The first signs;
	// all of them verify, so a new secret can be put first while the old
	// ones still accept the cookies already issued. Each must be at least
	// 32 bytes. Required.
	Secrets [][]byte

	// Cookie sets the attributes of the session cookie.
	Cookie Cookie

	// IdleTimeout ends a session that saw no request for this long. It is
	// enforced by the store's expiry, which requests that use the session
	// move forward. Default: 30 minutes.
	IdleTimeout time.Duration

	// Lifetime ends a session this long after it was created, however
	// active it is. It is kept in the record and checked on every load.
	// Default: 24 hours.
	Lifetime time.Duration

	// ErrorHandler answers a request whose session could not be loaded or
	// saved because the store failed. It runs before the response headers
	// are sent, in place of the handler's response, and the session
	// cookie is left untouched. Default: log the error and reply 503
	// Service Unavailable; 409 Conflict for ErrConflict (a conflict=error
	// field, or retries exhausted) and for ErrTooManySessions (a new
	// session refused by OverLimit: RefuseNew); 500 for anything else,
	// such as ErrTooLarge.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)

	// Logger receives the runtime's log lines (store failures, corrupt
	// records). Session IDs never appear in them. Default: slog.Default().
	Logger *slog.Logger

	// Persistent gives session cookies a Max-Age, so that sessions survive
	// browser restarts until they expire on the server; a session can
	// still choose with RememberMe. Default: false, browser-session cookies.
	Persistent bool

	// Rolling sends the cookie again on every response of a request that
	// used its session (express-session's rolling). Persistent cookies are
	// re-sent anyway whenever their expiry moves. Default: false.
	Rolling bool

	// RenewAfter gives a session a new ID once its ID is this old (OWASP's
	// renewal timeout), so that a stolen cookie stops working even in an
	// active session. Requests still carrying the old cookie may follow it
	// for RenewGrace. Privilege changes (Regenerate, fields tagged renew)
	// never get a grace. An ID's age is counted in whole seconds, so
	// RenewAfter is at least one second and exact to a second. Default:
	// 0, no renewal.
	RenewAfter time.Duration

	// RenewGrace is how long the old ID of a renewal keeps working, for
	// requests that were already under way; shorter than RenewAfter.
	// Default: 1 minute, or half of RenewAfter when that is shorter.
	RenewGrace time.Duration

	// TrustedProxies are the addresses of reverse proxies whose
	// X-Forwarded-Proto header Cookie.Secure: Auto believes. Default: none.
	TrustedProxies []netip.Prefix

	// OnEvent, if set, is called for each change in a session's life
	// (EventCreated, EventDestroyed, …), after the store confirmed it,
	// once across every instance sharing the store, in the goroutine of
	// the request that made it (a slow hook delays that request only). A
	// hook that panics is recovered and logged. Ending a session costs a
	// compare-and-swap more with a hook set, so that two requests ending
	// it report it once. Default: nil, no events and no cost.
	OnEvent func(ctx context.Context, e Event)

	// MaxSessionsPerOwner bounds the live sessions of one owner, for a
	// session type with an owner field kept in a server-side store; a
	// new session beyond it is handled as OverLimit says, exactly, however
	// many instances log the owner in at once. Default (0): 500, at most
	// 500.
	MaxSessionsPerOwner int

	// EncryptAtRest seals every record the runtime writes to the store
	// (sessions and owner indexes) with AES-256-GCM under a key derived
	// from Secrets for this purpose, the record's store key as associated
	// data: a dump of the store holds no field value, and a record moved
	// to another key does not open. Records written before, in plaintext,
	// still read and are sealed at their next write; with it off, sealed
	// records still read while the secrets that sealed them are in
	// Secrets. It needs a server-side store (sealed cookies are encrypted
	// already). Default: false.
	EncryptAtRest bool

	// Observer, if set, is told of every store operation and lifecycle
	// event, for telemetry: runtime/otelsession's records OpenTelemetry
	// traces and metrics. Its events are counted once, as OnEvent's are.
	Observer Observer

	// OverLimit is what a new session beyond MaxSessionsPerOwner does:
	// EvictOldest (the default) ends the owner's oldest session
	// (EventEvicted); RefuseNew fails the save with ErrTooManySessions,
	// which the default ErrorHandler answers with 409, and the existing
	// sessions stay.
	OverLimit LimitPolicy
}

// A LimitPolicy is what a session beyond Config.MaxSessionsPerOwner does.
type LimitPolicy uint8

// The values of a LimitPolicy.
const (
	EvictOldest LimitPolicy = iota + 1 // the owner's oldest session ends (the default)
	RefuseNew                          // the new session is refused: ErrTooManySessions
)

// A Backend is what Config.Store holds: a Store, or a store that keeps
// sessions in cookies (runtime/cookiestore). NewManager refuses any other
// value.
type Backend any

// Cookie holds the attributes of the session cookie. The zero value is the
// secure default: "__Host-session", Path=/, no Domain, Secure, HttpOnly,
// SameSite=Lax, no Max-Age (the cookie ends with the browser session).
type Cookie struct {
	// Name of the cookie. Default: "__Host-session", or "session" when
	// Secure is Off or Domain is set.
	Name string
	// Path of the cookie. Default: "/".
	Path string
	// Domain of the cookie. Default: none (the cookie goes to this host only).
	Domain string
	// Secure sends the cookie over HTTPS only. Default: On. Turn it Off for
	// development over plain HTTP. Auto sets it on requests that came over
	// TLS, or through one of Config.TrustedProxies with
	// X-Forwarded-Proto: https (the default name is then "session").
	Secure Toggle
	// HttpOnly hides the cookie from JavaScript. Default: On.
	HttpOnly Toggle
	// SameSite restricts cross-site sending. Default: http.SameSiteLaxMode;
	// never left unset, since browsers disagree on the default.
	SameSite http.SameSite
	// Partitioned sets the CHIPS Partitioned attribute, for sites embedded
	// in other sites. Default: off. Requires Secure.
	Partitioned bool
}

// A Toggle is an on/off setting whose zero value means "the default",
// which the field documents.
type Toggle uint8

// The values of a Toggle.
const (
	On   Toggle = iota + 1 // the setting is on
	Off                    // the setting is off
	Auto                   // decided per request; only Cookie.Secure takes it
)

func (t Toggle) or(def bool) bool {
	switch t {
	case On:
		return true
	case Off:
		return false
	}
	return def
}

// Defaults for the Config fields.
const (
	DefaultIdleTimeout = 30 * time.Minute
	DefaultLifetime    = 24 * time.Hour
	// MinSecretLen is the shortest secret NewManager accepts.
	MinSecretLen = 32
)

// settings is a validated Config with its defaults filled in.
type settings struct {
	store        Store         // nil when sessions travel in cookies; the user's, wrapped to open sealed records
	raw          Store         // the user's store, unwrapped
	carrier      carry.Carrier // how sessions travel between requests
	ownStore     bool
	secureAuto   bool
	trusted      []netip.Prefix
	persistent   bool
	rolling      bool
	renewAfter   time.Duration
	renewGrace   time.Duration
	secrets      [][]byte
	cookie       http.Cookie // template: every attribute but the value
	idle         time.Duration
	lifetime     time.Duration
	errorHandler func(http.ResponseWriter, *http.Request, error)
	log          *slog.Logger
	onEvent      func(context.Context, Event)
	obs          Observer
	maxPerOwner  int
	overLimit    LimitPolicy
	revoc        *revocations // sealed cookies with cookiestore.WithRevocation
}

func (cfg Config) settings() (settings, error) {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	s := settings{
		idle:         cfg.IdleTimeout,
		lifetime:     cfg.Lifetime,
		errorHandler: cfg.ErrorHandler,
		log:          cfg.Logger,
		secureAuto:   cfg.Cookie.Secure == Auto,
		trusted:      cfg.TrustedProxies,
		persistent:   cfg.Persistent,
		rolling:      cfg.Rolling,
		renewAfter:   cfg.RenewAfter,
		renewGrace:   cfg.RenewGrace,
		onEvent:      cfg.OnEvent,
		obs:          cfg.Observer,
		maxPerOwner:  cfg.MaxSessionsPerOwner,
		overLimit:    cfg.OverLimit,
	}
	switch {
	case s.maxPerOwner < 0 || s.maxPerOwner > maxOwnedSessions:
		bad("MaxSessionsPerOwner is %d: want 1 to %d, or 0 for %d", s.maxPerOwner, maxOwnedSessions, maxOwnedSessions)
	case s.maxPerOwner == 0:
		s.maxPerOwner = maxOwnedSessions
	}
	switch s.overLimit {
	case 0:
		s.overLimit = EvictOldest
	case EvictOldest, RefuseNew:
	default:
		bad("OverLimit is %d: want EvictOldest or RefuseNew", s.overLimit)
	}
	switch {
	case s.renewAfter < 0 || s.renewGrace < 0:
		bad("RenewAfter and RenewGrace cannot be negative")
	case s.renewAfter > 0 && s.renewAfter < time.Second:
		bad("RenewAfter must be at least one second")
	case s.renewGrace == 0:
		s.renewGrace = time.Minute
		if s.renewAfter > 0 {
			s.renewGrace = min(s.renewGrace, s.renewAfter/2)
		}
	case s.renewAfter > 0 && s.renewGrace >= s.renewAfter:
		// A forward could then outlive the next renewal: a chain.
		bad("RenewGrace (%v) must be shorter than RenewAfter (%v)", s.renewGrace, s.renewAfter)
	}
	for i, p := range s.trusted {
		if !p.IsValid() {
			bad("TrustedProxies[%d] is not a valid prefix", i)
		}
	}
	if len(cfg.Secrets) == 0 {
		bad("Secrets is empty: give at least one secret of %d or more random bytes", MinSecretLen)
	}
	for i, k := range cfg.Secrets {
		if len(k) < MinSecretLen {
			bad("Secrets[%d] is %d bytes: secrets need at least %d random bytes", i, len(k), MinSecretLen)
		}
		s.secrets = append(s.secrets, append([]byte(nil), k...))
	}
	switch {
	case s.idle < 0:
		bad("IdleTimeout is negative (%v)", s.idle)
	case s.idle == 0:
		s.idle = DefaultIdleTimeout
	}
	switch {
	case s.lifetime < 0:
		bad("Lifetime is negative (%v)", s.lifetime)
	case s.lifetime == 0:
		s.lifetime = DefaultLifetime
	}
	if s.idle < time.Second || s.lifetime < time.Second {
		bad("IdleTimeout and Lifetime must be at least one second (stores count in seconds)")
	}
	if s.errorHandler == nil {
		s.errorHandler = defaultErrorHandler(s.logger())
	}
	s.log = s.logger()

	c, err := cfg.Cookie.build()
	if err != nil {
		errs = append(errs, err)
	}
	s.cookie = c
	switch b := cfg.Store.(type) {
	case nil:
	case carry.Maker:
		if err != nil || len(s.secrets) == 0 {
			break
		}
		carrier, def, err := b.Carrier(c, s.secrets)
		if err != nil {
			errs = append(errs, err)
		}
		s.carrier = carrier
		if cfg.IdleTimeout == 0 {
			s.idle = def.IdleTimeout
		}
		if cfg.Lifetime == 0 {
			s.lifetime = def.Lifetime
		}
		if def.Revocations != nil {
			s.revoc = &revocations{store: def.Revocations, ttl: def.RevocationCache, cache: map[string]revoked{}}
		}
		if s.renewAfter > 0 {
			bad("RenewAfter does not apply to a cookie store: the session ID is inside the seal; keep IdleTimeout short instead")
		}
	case Store:
		s.store = b
	default:
		bad("Store is a %T: give a runtime.Store or a cookie store (runtime/cookiestore)", cfg.Store)
	}
	if err := errors.Join(errs...); err != nil {
		return settings{}, fmt.Errorf("sessiongen: invalid Config: %w", err)
	}
	if cfg.EncryptAtRest && s.carrier != nil {
		return settings{}, errors.New("sessiongen: invalid Config: EncryptAtRest needs a server-side store; sealed cookies are encrypted already")
	}
	if s.store == nil && s.carrier == nil {
		s.store, s.ownStore = NewMemoryStore(), true
	}
	if s.store != nil {
		a, err := newAtRest(s.store, s.secrets, cfg.EncryptAtRest, s.log)
		if err != nil {
			return settings{}, fmt.Errorf("sessiongen: invalid Config: %w", err)
		}
		s.raw, s.store = s.store, a
	}
	return s, nil
}

func (s settings) logger() *slog.Logger {
	if s.log != nil {
		return s.log
	}
	return slog.Default()
}

// build fills in the defaults and rejects combinations that browsers
// silently drop, which net/http's Cookie.Valid does not check.
func (c Cookie) build() (http.Cookie, error) {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("Cookie: "+format, args...)) }
	if c.HttpOnly == Auto || c.Secure > Auto || c.HttpOnly > Auto {
		bad("HttpOnly takes On or Off, Secure On, Off or Auto")
	}
	auto := c.Secure == Auto
	hc := http.Cookie{
		Name:        c.Name,
		Path:        c.Path,
		Domain:      c.Domain,
		Secure:      c.Secure.or(true), // Auto too: checked as if secure, set per request
		HttpOnly:    c.HttpOnly.or(true),
		SameSite:    c.SameSite,
		Partitioned: c.Partitioned,
	}
	if hc.Path == "" {
		hc.Path = "/"
	}
	if hc.Name == "" {
		hc.Name = "session"
		if hc.Secure && !auto && hc.Domain == "" && hc.Path == "/" {
			hc.Name = "__Host-session"
		}
	}
	if hc.SameSite < 0 || hc.SameSite > http.SameSiteNoneMode {
		bad("SameSite %d is none of http.SameSiteLaxMode, StrictMode or NoneMode", hc.SameSite)
	}
	if !strings.HasPrefix(hc.Path, "/") {
		bad("Path %q must start with \"/\", or browsers use the request's directory instead", hc.Path)
	}
	if hc.SameSite == 0 || hc.SameSite == http.SameSiteDefaultMode {
		hc.SameSite = http.SameSiteLaxMode
	}
	if auto && (hasPrefixFold(hc.Name, "__Host-") || hasPrefixFold(hc.Name, "__Secure-") || hc.SameSite == http.SameSiteNoneMode || hc.Partitioned) {
		bad("Secure: Auto cannot serve a __Host- or __Secure- name, SameSite=None or Partitioned: they need Secure on every response")
	}
	if !isToken(hc.Name) {
		bad("Name %q is not a valid cookie name (letters, digits and !#$%%&'*+-.^_`|~ only)", hc.Name)
	}
	if hasPrefixFold(hc.Name, "__Host-") && (!hc.Secure || hc.Domain != "" || hc.Path != "/") {
		bad("a __Host- cookie needs Secure, Path \"/\" and no Domain, or browsers drop it")
	}
	if hasPrefixFold(hc.Name, "__Secure-") && !hc.Secure {
		bad("a __Secure- cookie needs Secure, or browsers drop it")
	}
	if hc.SameSite == http.SameSiteNoneMode && !hc.Secure {
		bad("SameSite=None needs Secure, or browsers drop the cookie")
	}
	if hc.Partitioned && !hc.Secure {
		bad("Partitioned needs Secure")
	}
	probe := hc
	probe.Value = "x"
	if err := probe.Valid(); err != nil && len(errs) == 0 {
		bad("%v", err)
	}
	return hc, errors.Join(errs...)
}

// isToken reports whether s is an RFC 7230 token, the syntax of a cookie name.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x7f || c <= ' ' || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

func defaultErrorHandler(log *slog.Logger) func(http.ResponseWriter, *http.Request, error) {
	return func(w http.ResponseWriter, r *http.Request, err error) {
		code, text, msg := http.StatusInternalServerError, http.StatusText(http.StatusInternalServerError), "sessiongen: session store failed; the session was not saved"
		switch {
		case errors.Is(err, ErrOutcomeUnknown):
			code, text = http.StatusServiceUnavailable, "Service Unavailable: the session store did not answer; the last change may or may not have been saved"
			msg = "sessiongen: session store did not answer a write; outcome unknown: it may or may not have been saved"
		case errors.Is(err, ErrUnavailable):
			code, text = http.StatusServiceUnavailable, "Service Unavailable: the session store could not be reached; nothing was saved and the session is kept"
			msg = "sessiongen: session store unavailable; nothing was saved"
		case errors.Is(err, ErrTooManySessions):
			code, text = http.StatusConflict, "Conflict: this account is signed in on too many devices; sign out of one first"
			log.InfoContext(r.Context(), "sessiongen: a new session was refused: its owner has MaxSessionsPerOwner", "method", r.Method, "path", r.URL.Path)
			w.Header().Set("Cache-Control", "no-store")
			http.Error(w, text, code)
			return
		case errors.Is(err, ErrConflict):
			code, text = http.StatusConflict, http.StatusText(http.StatusConflict)
		}
		log.ErrorContext(r.Context(), msg, "method", r.Method, "path", r.URL.Path, "err", err)
		w.Header().Set("Cache-Control", "no-store") // whatever the handler meant to allow for its own response
		http.Error(w, text, code)
	}
}

// hasPrefixFold reports whether name begins with prefix, in any case:
// browsers match the __Host- and __Secure- prefixes case-insensitively.
func hasPrefixFold(name, prefix string) bool {
	return len(name) >= len(prefix) && strings.EqualFold(name[:len(prefix)], prefix)
}
