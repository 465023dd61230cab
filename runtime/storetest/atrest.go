package storetest

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessiongen/sessiongen/internal/testsession"
	"github.com/sessiongen/sessiongen/runtime"
)

// keyLog remembers every key saved through it, and the last record.
type keyLog struct {
	runtime.Store
	mu       sync.Mutex
	keys     map[string]bool
	returned map[string]bool
}

// seen reports whether lastSessionKey returned k already, and marks it.
// Call with mu held.
func (k *keyLog) seen(key string) bool {
	if k.returned == nil {
		k.returned = map[string]bool{}
	}
	was := k.returned[key]
	k.returned[key] = true
	return was
}

// newLogger logs into b.
func newLogger(b *syncBuffer) *slog.Logger { return slog.New(slog.NewTextHandler(b, nil)) }

func (k *keyLog) Save(ctx context.Context, key string, rec []byte, v uint64, exp time.Time) (uint64, error) {
	k.mu.Lock()
	if k.keys == nil {
		k.keys = map[string]bool{}
	}
	k.keys[key] = true
	k.mu.Unlock()
	return k.Store.Save(ctx, key, rec, v, exp)
}

func (k *keyLog) all() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []string
	for key := range k.keys {
		out = append(out, key)
	}
	return out
}

// RunEncryptAtRest checks Config.EncryptAtRest on stores made by
// newStore: what the store holds after logins (read back raw, as the
// server's clients would dump it) has none of the field values and no
// session ID; a record moved to another key, with a byte flipped, or
// truncated, is a fresh session and a log line; rotating the secrets
// keeps everyone signed in; and two managers sharing the store, one
// sealing and one not (a deploy that switches it), lose no update.
func RunEncryptAtRest(t *testing.T, newStore func(t *testing.T) runtime.Store) {
	secret := func(c byte) []byte { return bytes.Repeat([]byte{c}, 32) }
	manager := func(t *testing.T, store runtime.Store, seal bool, logs *syncBuffer, secrets ...[]byte) *testsession.AccountManager {
		cfg := runtime.Config{Store: store, Secrets: secrets, EncryptAtRest: seal}
		if logs != nil {
			cfg.Logger = newLogger(logs)
		}
		m, err := testsession.NewAccountManager(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		return m
	}
	t.Run("ADumpHoldsNoValueAndNoID", func(t *testing.T) {
		raw := newStore(t)
		log := &keyLog{Store: raw}
		m := manager(t, log, true, nil, secret('a'))
		uid := time.Now().UnixNano()
		device := fmt.Sprintf("device-%d", uid)
		cookies := accountLogin(t, m, uid, device)
		id := sessionID(cookies)
		if got := accountRead(t, m, cookies); got != fmt.Sprintf("%d %s", uid, device) {
			t.Fatalf("a sealed session reads %q", got)
		}
		keys := log.all()
		if len(keys) < 2 {
			t.Fatalf("a login of an owner wrote %d records, want the session and the owner's index", len(keys))
		}
		for _, k := range keys {
			rec, _, err := raw.Load(context.Background(), k)
			if err != nil {
				t.Fatal(err)
			}
			if len(rec) == 0 || rec[0] != 0xE1 || bytes.Contains(rec, []byte(device)) || bytes.Contains(rec, []byte(id)) || bytes.Contains(rec, []byte("dev")) {
				t.Fatalf("the record under %.8s… as stored: %q: want it sealed, with no field name, value or ID", k, rec)
			}
		}
	})
	t.Run("MovedFlippedOrTruncatedIsAFreshSession", func(t *testing.T) {
		raw := newStore(t)
		logs := &syncBuffer{}
		log := &keyLog{Store: raw}
		m := manager(t, log, true, logs, secret('a'))
		ctx := context.Background()
		for _, harm := range []string{"moved", "flipped", "truncated"} {
			victim := accountLogin(t, m, 1, "victim")
			victimKey := lastSessionKey(t, log)
			thief := accountLogin(t, m, 2, "thief")
			thiefKey := lastSessionKey(t, log)
			rec, _, err := raw.Load(ctx, victimKey)
			if err != nil {
				t.Fatal(err)
			}
			target := victimKey
			switch harm {
			case "moved": // the victim's sealed record, under the thief's key
				target = thiefKey
			case "flipped":
				rec = append([]byte(nil), rec...)
				rec[len(rec)/2] ^= 1
			case "truncated":
				rec = rec[:len(rec)-5]
			}
			_, ver, err := raw.Load(ctx, target)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := raw.Save(ctx, target, rec, ver, time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			cookies := map[string]string{"moved": thief, "flipped": victim, "truncated": victim}[harm]
			if got := accountRead(t, m, cookies); got != "0 " {
				t.Fatalf("%s record: the session reads %q, want a fresh one", harm, got)
			}
			if !strings.Contains(logs.String(), "does not open") || !strings.Contains(logs.String(), target) {
				t.Fatalf("%s record: no log line naming the store key:\n%s", harm, logs.String())
			}
		}
	})
	t.Run("RotationKeepsEveryoneSignedIn", func(t *testing.T) {
		raw := newStore(t)
		old := manager(t, raw, true, nil, secret('a'))
		cookies := accountLogin(t, old, 7, "phone")
		// The new secret first, the old one after it: both open.
		rotated := manager(t, raw, true, nil, secret('b'), secret('a'))
		if got := accountRead(t, rotated, cookies); got != "7 phone" {
			t.Fatalf("after the rotation, the session reads %q", got)
		}
		cookies = accountDo(t, rotated, "/login?uid=7&dev=laptop", cookies) // a write: sealed under the new secret
		r, err := runtime.Inspect(context.Background(), raw, sessionID(cookies), secret('b'))
		if err != nil || r.Fields["dev"] != "laptop" {
			t.Fatalf("the rewritten record, opened with the new secret alone: %v, %v", r, err)
		}
		if _, err := runtime.Inspect(context.Background(), raw, sessionID(cookies)); err == nil || !strings.Contains(err.Error(), "sealed") {
			t.Fatalf("Inspect without secrets: %v, want it to say the record is sealed", err)
		}
	})
	t.Run("SwitchingItOnLosesNothing", func(t *testing.T) {
		raw := newStore(t)
		plain := newApp(t, runtime.Config{Store: raw})
		sealed := newApp(t, runtime.Config{Store: raw, EncryptAtRest: true})
		cookie := plain.Start() // a session written in plaintext, before the switch
		// 16 writers, each on a counter of its own, 10 increments each,
		// through the two managers at once: only the store's
		// compare-and-swap and the field merge keep them apart, across a
		// record sealed by one and read by the other.
		var wg sync.WaitGroup
		for w := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 10 {
					if code := []*App{plain, sealed}[w%2].Do(fmt.Sprintf("/incr?i=%d", w), cookie).Code; code != 200 {
						t.Errorf("writer %d: %d", w, code)
					}
				}
			}()
		}
		wg.Wait()
		for _, a := range []*App{plain, sealed} {
			if got, _ := a.Call(t, "/sum", cookie); !strings.HasPrefix(got, "160 ") {
				t.Fatalf("160 increments through a sealing and a plain manager: sum %q", got)
			}
		}
	})
}

// sessionID returns the session ID in a Cookie header of Account's.
func sessionID(cookies string) string {
	for _, c := range strings.Split(cookies, "; ") {
		if _, v, ok := strings.Cut(c, "="); ok {
			id, _, _ := strings.Cut(v, ".")
			return id
		}
	}
	return ""
}

// lastSessionKey returns a session key saved through log that is not an
// owner's index; each call after a new login returns the new one.
func lastSessionKey(t *testing.T, log *keyLog) string {
	t.Helper()
	log.mu.Lock()
	defer log.mu.Unlock()
	for k := range log.keys {
		if !strings.HasPrefix(k, "owner-") && !log.returned[k] {
			log.seen(k)
			return k
		}
	}
	t.Fatal("no new session key")
	return ""
}

// SealedLogin signs a user in through a manager with EncryptAtRest on
// store, and returns what a dump of the store must not contain: a field
// value the session holds, and the session's ID.
func SealedLogin(t *testing.T, store runtime.Store) (value, id string) {
	t.Helper()
	m, err := testsession.NewAccountManager(runtime.Config{Store: store, Secrets: [][]byte{bytes.Repeat([]byte("d"), 32)}, EncryptAtRest: true})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	value = fmt.Sprintf("device-%d", time.Now().UnixNano())
	cookies := accountLogin(t, m, 42, value)
	if got := accountRead(t, m, cookies); got != "42 "+value {
		t.Fatalf("a sealed session reads %q", got)
	}
	return value, sessionID(cookies)
}
