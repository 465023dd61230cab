package runtime

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"time"

	"github.com/sessiongen/sessiongen/runtime/internal/carry"
	"github.com/vmihailenco/msgpack/v5"
)

// A Record is a stored session as Inspect reads it.
type Record struct {
	Key        string    // the store key: a hash of the session ID, never the ID
	Version    uint64    // the store's version of the record
	Created    time.Time // when the session began (the absolute lifetime counts from it)
	Issued     time.Time // when its current ID was issued (zero: when it began)
	Persistent bool      // the cookie outlives the browser session
	// Fields holds every stored field by key, the ones the running code
	// does not know included, decoded as msgpack/v5 decodes into an any,
	// but integers are int64 (uint64 above the int64 range) and maps have
	// string keys (other keys written out).
	Fields map[string]any
}

// Inspect reads the session a cookie value ("<id>.<signature>") or a bare
// session ID names from store, for debugging: what the store holds,
// without the types of a generated session. It does not check the
// cookie's signature (whoever can read the store can read the session),
// follows a renewed ID as a request would, and returns no ID or cookie,
// only the store key. A session that is not there, or expired, is
// ErrNotFound. A record sealed at rest (Config.EncryptAtRest) opens with
// the secrets given, any of the manager's; without them it is an error
// that says the record is sealed.
func Inspect(ctx context.Context, store Store, cookieOrID string, secrets ...[]byte) (*Record, error) {
	id, _, _ := strings.Cut(strings.TrimSpace(cookieOrID), ".")
	if len(id) != idLen || !isB64(id) {
		return nil, fmt.Errorf("sessiongen: %q is neither a session cookie's value nor a session ID", redactID(cookieOrID))
	}
	a, err := newAtRest(store, secrets, false, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, fmt.Errorf("sessiongen: %w", err)
	}
	_, key, rec, ver, err := loadFollowing(ctx, &signedCookie{store: a}, new(carry.Trip), id, time.Time{}, 0)
	if err != nil {
		return nil, fmt.Errorf("sessiongen: load %s: %w", key, err)
	}
	if len(rec) > 0 && rec[0] == atRestV1 {
		if len(secrets) == 0 {
			return nil, fmt.Errorf("sessiongen: the record under %s is sealed (Config.EncryptAtRest): give the secrets to open it", key)
		}
		return nil, fmt.Errorf("sessiongen: the record under %s is sealed and does not open with the secrets given", key)
	}
	hdr, fields, err := entries(rec)
	if err != nil {
		return nil, err
	}
	r := &Record{
		Key: key, Version: ver, Created: time.Unix(hdr.created, 0).UTC(),
		Persistent: hdr.flags&flagPersistent != 0, Fields: make(map[string]any, len(fields)),
	}
	if hdr.issued != 0 {
		r.Issued = time.Unix(hdr.issued, 0).UTC()
	}
	for _, f := range fields {
		dec := msgpack.NewDecoder(bytes.NewReader(f.Val))
		dec.SetMapDecoder(func(d *msgpack.Decoder) (any, error) { return d.DecodeUntypedMap() })
		v, err := dec.DecodeInterfaceLoose()
		if err != nil {
			return nil, fmt.Errorf("sessiongen: field %q: %w", f.Key, err)
		}
		r.Fields[string(f.Key)] = stringKeys(v)
	}
	return r, nil
}

// stringKeys rewrites the maps in v as map[string]any, so that the record
// can be printed as JSON, and integers as int64 where they fit.
func stringKeys(v any) any {
	switch v := v.(type) {
	case int8:
		return int64(v)
	case int16:
		return int64(v)
	case int32:
		return int64(v)
	case uint8:
		return int64(v)
	case uint16:
		return int64(v)
	case uint32:
		return int64(v)
	case uint64:
		if v <= math.MaxInt64 {
			return int64(v)
		}
	case float32:
		return float64(v)
	case map[any]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[fmt.Sprint(k)] = stringKeys(e)
		}
		return out
	case map[string]any:
		for k, e := range v {
			v[k] = stringKeys(e)
		}
	case []any:
		for i := range v {
			v[i] = stringKeys(v[i])
		}
	}
	return v
}

// redactID shortens what the caller passed, for an error message: a
// mistyped ID is still most of one.
func redactID(s string) string {
	if len(s) > 8 {
		return s[:4] + "…"
	}
	return s
}
