package runtime

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"hash/maphash"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/sessiongen/sessiongen/runtime/internal/carry"
)

// The cookie value is "<id>.<sig>": id is 32 random bytes and sig is
// HMAC-SHA256(secret, cookie name ‖ 0x00 ‖ id), both base64url without
// padding. Covering the name stops a value signed for one cookie from
// being replayed as another.
const (
	idBytes    = 32
	idLen      = 43 // base64.RawURLEncoding.EncodedLen(idBytes)
	sigLen     = 43 // base64.RawURLEncoding.EncodedLen(sha256.Size)
	cookieLen  = idLen + 1 + sigLen
	maxNameLen = 256
)

var b64 = base64.RawURLEncoding

// newID returns a fresh session ID: 256 bits from crypto/rand.
func newID() string {
	var b [idBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("sessiongen: crypto/rand failed: " + err.Error()) // never on Go ≥ 1.24
	}
	var out [idLen]byte // EncodeToString would allocate twice
	b64.Encode(out[:], b[:])
	return string(out[:])
}

// signer signs and verifies cookie values. It keeps a pool of keyed HMACs
// per secret: making one costs four times as much as using it.
type signer struct {
	name  string
	pools []sync.Pool // one per secret, in Config order
}

type macState struct {
	h   hash.Hash
	buf []byte
}

func newSigner(name string, secrets [][]byte) *signer {
	s := &signer{name: name, pools: make([]sync.Pool, len(secrets))}
	for i, k := range secrets {
		s.pools[i].New = func() any {
			return &macState{h: hmac.New(sha256.New, k), buf: make([]byte, 0, maxNameLen+cookieLen)}
		}
	}
	return s
}

// sign returns the cookie value for id, signed with the first secret.
func (s *signer) sign(id string) string {
	var out [cookieLen]byte
	return string(s.appendSigned(out[:0], id))
}

// appendSigned appends the cookie value for id to b.
func (s *signer) appendSigned(b []byte, id string) []byte {
	m := s.pools[0].Get().(*macState)
	defer s.pools[0].Put(m)
	b = append(append(b, id...), '.')
	return b64.AppendEncode(b, m.mac(s.name, id))
}

// mac computes the MAC of id into m's scratch space.
func (m *macState) mac(name, id string) []byte {
	m.h.Reset()
	b := append(m.buf[:0], name...)
	b = append(b, 0)
	b = append(b, id...)
	m.buf = b
	m.h.Write(b)
	return m.h.Sum(b[:0])
}

// verify returns the ID in a cookie value, or "" when the value is not
// exactly "<43 base64url chars>.<43 base64url chars>" with a signature made
// by one of the secrets. Nothing is decoded or allocated before the shape
// is checked.
func (s *signer) verify(value string) (id string, ok bool) {
	if len(value) != cookieLen || value[idLen] != '.' || !isB64(value[:idLen]) || !isB64(value[idLen+1:]) {
		return "", false
	}
	id, sig := value[:idLen], value[idLen+1:]
	for i := range s.pools {
		m := s.pools[i].Get().(*macState)
		mac := m.mac(s.name, id)
		want := b64.AppendEncode(mac[len(mac):], mac)
		got := append(want[len(want):], sig...) // scratch space: no allocation
		good := len(got) == len(want) && hmac.Equal(want, got)
		s.pools[i].Put(m)
		if good {
			return id, true
		}
	}
	return "", false
}

func isB64(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// maxSessionCookies is how many cookies of the session's name a request
// may carry: a browser holds one, or two when a sibling subdomain planted
// another. A request with more carries no session, and none of them is
// verified: a flood of forged cookies costs no HMAC and counts once.
const maxSessionCookies = 4

// idFromRequest returns the session ID carried by the request's cookies.
// Every cookie of our name is checked, so a forged cookie placed first (by
// a sibling subdomain, say) cannot shadow the real one. More than one
// distinct valid ID is ambiguous and counts as none.
func (s *signer) idFromRequest(r *http.Request) (id string, bad int, anomaly bool) {
	cookies := r.CookiesNamed(s.name)
	if len(cookies) > maxSessionCookies {
		return "", 1, false
	}
	for _, c := range cookies {
		found, ok := s.verify(c.Value)
		if c.Quoted {
			ok = false
		}
		switch {
		case !ok:
			bad++
		case id == "":
			id = found
		case id != found:
			return "", bad, true
		}
	}
	return id, bad, false
}

// storeKey derives the store key from a session ID: base64url(SHA-256(id)).
// The store never sees the ID itself, and the key is always 43 legal bytes.
func storeKey(id string) string { return carry.StoreKey(id) }

var keySeed = maphash.MakeSeed()

// keyHash hashes a store key for in-process tables.
func keyHash(key string) uint64 { return maphash.String(keySeed, key) }

// logID is what log lines say instead of a session ID: a hash of the
// store key salted per manager, so that lines about one session can be
// matched while neither the ID nor the store key can be read from them.
func (m *Manager) logID(key string) string {
	h := hmac.New(sha256.New, m.logSalt[:])
	h.Write([]byte(key))
	return b64.EncodeToString(h.Sum(nil)[:9])
}

// secure reports whether the cookie for r gets the Secure attribute: always
// unless Cookie.Secure is Off or Auto; with Auto, when r came over TLS or
// through a trusted proxy that says X-Forwarded-Proto: https.
func (m *Manager) secure(r *http.Request) bool {
	if !m.secureAuto {
		return m.cookie.Secure
	}
	if r.TLS != nil {
		return true
	}
	if len(m.trusted) == 0 || r.Header.Get("X-Forwarded-Proto") != "https" {
		return false
	}
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	for _, p := range m.trusted {
		if p.Contains(ap.Addr().Unmap()) {
			return true
		}
	}
	return false
}

// setCookie adds a Set-Cookie header carrying id, or expiring the cookie
// when id is "". maxAge > 0 makes it persistent. Responses that set the
// cookie must not be cached.
func (m *Manager) setCookie(h http.Header, id string, maxAge int, secure bool) {
	var line string
	if id != "" && maxAge == 0 {
		// The common case, a browser-session cookie with a new value:
		// net/http's rendering of the attributes, made once, around it.
		a := &m.cookieLines[b2i(secure)]
		var b strings.Builder
		b.Grow(len(a.prefix) + cookieLen + len(a.suffix))
		b.WriteString(a.prefix)
		var v [cookieLen]byte
		b.Write(m.signer.appendSigned(v[:0], id))
		b.WriteString(a.suffix)
		line = b.String()
	} else {
		c := m.cookie
		c.Secure = secure
		if id == "" {
			c.MaxAge = -1 // Max-Age=0
			c.Expires = time.Unix(1, 0)
		} else {
			c.Value = m.signer.sign(id)
			c.MaxAge = maxAge
		}
		line = c.String()
	}
	_, cookies := h["Set-Cookie"]
	_, vary := h["Vary"]
	if cookies || vary {
		h.Add("Set-Cookie", line)
		h.Set("Cache-Control", "no-store")
		h.Add("Vary", "Cookie")
		return
	}
	v := []string{line, "no-store", "Cookie"} // one allocation for the three
	h["Set-Cookie"], h["Cache-Control"], h["Vary"] = v[0:1:1], v[1:2:2], v[2:3:3]
}

// cookieLine is a Set-Cookie line split around the cookie's value.
type cookieLine struct{ prefix, suffix string }

// cookieLines renders the cookie's attributes with net/http once per
// Secure setting, around a placeholder value.
func cookieLines(c http.Cookie) (lines [2]cookieLine) {
	placeholder := strings.Repeat("x", cookieLen)
	for i, secure := range []bool{false, true} {
		c.Secure, c.Value = secure, placeholder
		prefix, suffix, _ := strings.Cut(c.String(), placeholder)
		lines[i] = cookieLine{prefix, suffix}
	}
	return lines
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
