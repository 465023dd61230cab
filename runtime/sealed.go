package runtime

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sessiongen/sessiongen/internal/clientside"
)

// sealedMode is how a manager keeps sessions in cookies, with a store
// that is a clientside.Store (runtime/cookiestore).
type sealedMode struct {
	sealer clientside.Sealer
	opts   clientside.Options
}

// sealedCookies stands in for the store in a request of a manager that
// keeps sessions in cookies: Load reads the session the request's cookies
// sealed, Save and Touch leave a new seal for the response, Delete expires
// the cookies. The whole save path of the other stores runs unchanged
// over it; it never conflicts, so nothing merges.
//
// A seal holds the session ID (32 bytes), the idle deadline (unix
// seconds, 8 bytes) and the record.
type sealedCookies struct {
	s       *session
	key     string // store key of the ID the cookies carried
	rec     []byte
	present int    // chunk cookies the request brought: name.0 … name.present-1 at most
	payload []byte // the seal to send; nil when there is none
	pkey    string // the store key payload is for
	expire  bool   // the response expires the cookies
}

const sealedHeader = idBytes + 8

// open reads the session the request's chunk cookies seal. It returns
// its ID, "" when there is none, and whether cookies were there but did
// not open (tampered, another key, missing or reordered chunks).
func (c *sealedCookies) open(r *http.Request, now time.Time) (id string, bad bool) {
	mode, name := c.s.m.sealed, c.s.m.cookie.Name
	var value strings.Builder
	limit, tooLong := mode.opts.MaxChunks*mode.opts.ChunkSize, false
	for i := range mode.opts.MaxChunks {
		// In order; a missing, repeated or reordered chunk makes a value
		// that does not authenticate. Nothing past the limit is copied:
		// the client chooses these lengths.
		if ck, err := r.Cookie(name + "." + strconv.Itoa(i)); err == nil {
			c.present = i + 1
			if tooLong = tooLong || value.Len()+len(ck.Value) > limit; !tooLong {
				value.WriteString(ck.Value)
			}
		}
	}
	if c.present == 0 {
		return "", false
	}
	if tooLong {
		return "", true
	}
	payload, err := mode.sealer.Open(value.String())
	if err != nil || len(payload) < sealedHeader {
		return "", true
	}
	if time.Unix(int64(binary.BigEndian.Uint64(payload[idBytes:])), 0).Before(now) {
		return "", false // past its idle deadline: expired, as a store would have dropped it
	}
	id = b64.EncodeToString(payload[:idBytes])
	c.key, c.rec = storeKey(id), payload[sealedHeader:]
	return id, false
}

// Load implements Store over the request's cookies.
func (c *sealedCookies) Load(_ context.Context, key string) ([]byte, uint64, error) {
	if key == c.key && c.rec != nil {
		return c.rec, 1, nil
	}
	return nil, 0, ErrNotFound
}

// Save implements Store: the response will carry rec, sealed. A record
// that would not fit in the cookies is ErrTooLarge, naming its largest
// fields, and the cookies the browser holds stay as they are.
func (c *sealedCookies) Save(_ context.Context, key string, rec []byte, _ uint64, expiry time.Time) error {
	if key != c.s.key {
		return fmt.Errorf("sessiongen: a cookie store keeps one session per cookie, not %s", c.s.m.logID(key))
	}
	mode := c.s.m.sealed
	limit := mode.opts.MaxChunks * mode.opts.ChunkSize
	if size := mode.sealer.SealedLen(sealedHeader + len(rec)); size > limit {
		return fmt.Errorf("%w: the sealed session is %d bytes, over the %d its %d cookies hold (cookiestore.WithMaxChunks); largest fields: %s. Keep large values in a server-side store, or store less",
			ErrTooLarge, size, limit, mode.opts.MaxChunks, largestFields(rec))
	}
	raw, err := b64.DecodeString(c.s.id)
	if err != nil || len(raw) != idBytes {
		return fmt.Errorf("sessiongen: session ID %s", c.s.m.logID(key))
	}
	c.payload = binary.BigEndian.AppendUint64(append(make([]byte, 0, sealedHeader+len(rec)), raw...), uint64(expiry.Unix()))
	c.payload, c.pkey, c.expire = append(c.payload, rec...), key, false
	return nil
}

// Touch implements Store: the response re-seals the session with the
// new idle deadline.
func (c *sealedCookies) Touch(ctx context.Context, key string, expiry time.Time) error {
	switch {
	case c.payload != nil && c.pkey == key:
		binary.BigEndian.PutUint64(c.payload[idBytes:], uint64(expiry.Unix()))
		return nil
	case key == c.key && c.rec != nil:
		return c.Save(ctx, key, c.rec, 1, expiry)
	}
	return ErrNotFound
}

// Delete implements Store: the cookies are expired, unless a new
// session (after Regenerate) replaces them.
func (c *sealedCookies) Delete(_ context.Context, key string) error {
	if c.payload != nil && c.pkey == key {
		c.payload = nil
	}
	if c.payload == nil {
		c.expire = true
	}
	return nil
}

// setCookies sends the seal the request left, cut into chunk cookies,
// and expires the chunks it no longer needs; or expires them all.
func (c *sealedCookies) setCookies(h http.Header, maxAge int, secure bool) {
	mode, base := c.s.m.sealed, c.s.m.cookie
	base.Secure = secure
	sent := 0
	if c.payload != nil {
		value := mode.sealer.Seal(c.payload)
		for ; len(value) > 0; sent++ {
			n := min(len(value), mode.opts.ChunkSize)
			ck := base
			ck.Name, ck.Value, ck.MaxAge = base.Name+"."+strconv.Itoa(sent), value[:n], maxAge
			h.Add("Set-Cookie", ck.String())
			value = value[n:]
		}
	} else if !c.expire {
		return
	}
	for i := sent; i < c.present; i++ {
		ck := base
		ck.Name, ck.MaxAge, ck.Expires = base.Name+"."+strconv.Itoa(i), -1, time.Unix(1, 0)
		h.Add("Set-Cookie", ck.String())
	}
	h.Set("Cache-Control", "no-store")
	h.Add("Vary", "Cookie")
	c.present, c.payload, c.expire = sent, nil, false
}

// largestFields names the three largest fields of rec, with their sizes.
func largestFields(rec []byte) string {
	_, fields, err := entries(rec)
	if err != nil {
		return "?"
	}
	slices.SortFunc(fields, func(a, b entry) int { return cmp.Compare(len(b.Val), len(a.Val)) })
	var parts []string
	for _, f := range fields[:min(3, len(fields))] {
		parts = append(parts, fmt.Sprintf("%q (%d bytes)", f.Key, len(f.Val)))
	}
	return strings.Join(parts, ", ")
}
