package cookiestore

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/internal/carry"
	"github.com/sessiongen/sessiongen/runtime/internal/seal"
)

// carrier keeps each session sealed in its request's cookies: Load reads
// the session the request's cookies sealed, Save and Touch leave a new
// seal for the response, Delete expires the cookies. It never conflicts,
// so nothing merges.
//
// A seal holds the session ID (32 bytes), the idle deadline (unix
// seconds, 8 bytes) and the record.
type carrier struct {
	sealer    *seal.Sealer
	cookie    http.Cookie // every attribute but the value
	maxChunks int
}

// jar is one request's cookies: what they brought and what the response
// will set.
type jar struct {
	key     string // store key of the ID the cookies carried
	rec     []byte // the record they carried
	present int    // chunk cookies the request brought: name.0 … name.present-1 at most
	out     []byte // the record the response will carry; nil when none
	outKey  string // the store key out is for
	expiry  int64  // out's idle deadline, unix seconds
	expire  bool   // the response expires the cookies
	sent    bool   // Send ran: the headers are gone
}

const (
	idBytes      = 32
	sealedHeader = idBytes + 8
)

var b64 = base64.RawURLEncoding

// errSent refuses a change once the response headers are gone.
var errSent = errors.New("cookiestore: the session changed after the response headers were sent; with sessions in cookies no change can be saved then. Change the session before writing the response")

func (c *carrier) jar(t *carry.Trip) *jar {
	if j, ok := t.Own.(*jar); ok {
		return j
	}
	j := new(jar)
	t.Own = j
	return j
}

func (c *carrier) limit() int { return c.maxChunks * ChunkSize }

// Open reads the session the request's chunk cookies seal. bad is 1 when
// cookies were there but did not open (tampered, another key, missing or
// reordered chunks).
func (c *carrier) Open(t *carry.Trip, now time.Time) (bad int, ambiguous bool) {
	j := c.jar(t)
	var value strings.Builder
	tooLong, forged := false, false
	for i := range c.maxChunks {
		// In order; a missing, repeated or reordered chunk makes a value
		// that does not authenticate. Nothing past the limit is copied:
		// the client chooses these lengths.
		cs := t.Req.CookiesNamed(c.cookie.Name + "." + strconv.Itoa(i))
		if len(cs) == 0 {
			continue
		}
		j.present = i + 1
		// Two cookies of one chunk's name: one was planted (a sibling
		// subdomain can set cookies of a name that is not __Host-), and
		// which is the victim's cannot be told. No session.
		forged = forged || len(cs) > 1 || cs[0].Quoted
		if tooLong = tooLong || value.Len()+len(cs[0].Value) > c.limit(); !tooLong {
			value.WriteString(cs[0].Value)
		}
	}
	if j.present == 0 {
		return 0, false
	}
	if tooLong || forged {
		return 1, false
	}
	payload, err := c.sealer.Open(value.String())
	if err != nil || len(payload) < sealedHeader {
		return 1, false
	}
	if time.Unix(int64(binary.BigEndian.Uint64(payload[idBytes:])), 0).Before(now) {
		return 0, false // past its idle deadline: expired, as a store would have dropped it
	}
	t.CookieID = b64.EncodeToString(payload[:idBytes])
	j.key, j.rec = carry.StoreKey(t.CookieID), payload[sealedHeader:]
	return 0, false
}

// Load returns the record the request's cookies carried.
func (c *carrier) Load(_ context.Context, t *carry.Trip, key string) ([]byte, uint64, error) {
	if j := c.jar(t); key == j.key && j.rec != nil {
		return j.rec, 1, nil
	}
	return nil, 0, runtime.ErrNotFound
}

// Save leaves rec for the response to carry, sealed. A record that would
// not fit in the cookies is runtime.ErrTooLarge, and the cookies the
// browser holds stay as they are.
func (c *carrier) Save(_ context.Context, t *carry.Trip, key string, rec []byte, _ uint64, expiry time.Time) (uint64, error) {
	j := c.jar(t)
	if j.sent {
		return 0, errSent
	}
	if size := seal.SealedLen(sealedHeader + len(rec)); size > c.limit() {
		return 0, fmt.Errorf("cookiestore: the sealed session is %d bytes, over the %d its %d cookies hold (cookiestore.WithMaxChunks). Keep large values in a server-side store, or store less: %w",
			size, c.limit(), c.maxChunks, runtime.ErrTooLarge)
	}
	j.out = append(j.out[:0], rec...)
	j.outKey, j.expiry, j.expire = key, expiry.Unix(), false
	return 0, nil
}

// Touch re-seals the session with the new idle deadline.
func (c *carrier) Touch(ctx context.Context, t *carry.Trip, key string, expiry time.Time) error {
	j := c.jar(t)
	switch {
	case j.sent:
		return errSent
	case j.out != nil && j.outKey == key:
		j.expiry = expiry.Unix()
		return nil
	case key == j.key && j.rec != nil:
		_, err := c.Save(ctx, t, key, j.rec, 1, expiry)
		return err
	}
	return runtime.ErrNotFound
}

// Delete expires the cookies, unless a new session (after Regenerate)
// replaces them.
func (c *carrier) Delete(_ context.Context, t *carry.Trip, key string) error {
	j := c.jar(t)
	if j.sent {
		return errSent
	}
	if j.out != nil && j.outKey == key {
		j.out = nil
	}
	if j.out == nil {
		j.expire = true
	}
	return nil
}

// Retire has nothing to do: the response's cookies replace the old ones
// whole, and no copy of the record stays anywhere to retire.
func (c *carrier) Retire(context.Context, *carry.Trip, string, uint64, time.Time) error { return nil }

// Send sets the seal the request left, cut into chunk cookies, and
// expires the chunks it no longer needs; or expires them all.
func (c *carrier) Send(h http.Header, t *carry.Trip, want carry.Cookie) {
	j := c.jar(t)
	j.sent = true
	base := c.cookie
	base.Secure = want.Secure
	sent := 0
	if j.out != nil && want.ID != "" {
		raw, err := b64.DecodeString(want.ID)
		if err != nil || len(raw) != idBytes {
			return // never: IDs are the runtime's
		}
		payload := make([]byte, 0, sealedHeader+len(j.out))
		payload = binary.BigEndian.AppendUint64(append(payload, raw...), uint64(j.expiry))
		value := c.sealer.Seal(append(payload, j.out...))
		for ; len(value) > 0; sent++ {
			n := min(len(value), ChunkSize)
			ck := base
			ck.Name, ck.Value, ck.MaxAge = base.Name+"."+strconv.Itoa(sent), value[:n], want.MaxAge
			h.Add("Set-Cookie", ck.String())
			value = value[n:]
		}
		t.CookieID = want.ID
	} else if !j.expire {
		return
	}
	for i := sent; i < j.present; i++ {
		ck := base
		ck.Name, ck.MaxAge, ck.Expires = base.Name+"."+strconv.Itoa(i), -1, time.Unix(1, 0)
		h.Add("Set-Cookie", ck.String())
	}
	h.Set("Cache-Control", "no-store")
	h.Add("Vary", "Cookie")
	j.present, j.out, j.expire = sent, nil, false
}
