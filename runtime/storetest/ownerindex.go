package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessiongen/sessiongen/runtime"
)

// ownerIndexKey is the store key of an owner's index, as the runtime
// derives it (a format of the store, like the records').
func ownerIndexKey(typeName, owner string) string {
	d := sha256.Sum256([]byte("sessiongen owner\x00" + typeName + "\x00" + owner))
	return "owner-" + base64.RawURLEncoding.EncodeToString(d[:])
}

// hostileIndexes are owner indexes no request may trip over: a nil array
// (its length read as -1 once made every login of the owner panic),
// garbage, a truncated entry, and an entry of the wrong shape.
var hostileIndexes = map[string][]byte{
	"nil array":   {0x01, 0xc0},
	"garbage":     {0xff, 0x00, 0x13},
	"truncated":   {0x01, 0x91, 0x93, 0xa1},
	"wrong shape": {0x01, 0x91, 0x92, 0xa1, 'k', 0x01},
}

// put writes rec under key, over what is there.
func put(t *testing.T, store runtime.Store, key string, rec []byte) {
	ctx := context.Background()
	_, err := store.Save(ctx, key, rec, 0, time.Now().Add(time.Hour))
	for try := 0; errors.Is(err, runtime.ErrConflict) && try < 5; try++ {
		var ver uint64
		if _, ver, err = store.Load(ctx, key); err == nil {
			_, err = store.Save(ctx, key, rec, ver, time.Now().Add(time.Hour))
		}
	}
	if err != nil {
		t.Fatalf("write %s: %v", key, err)
	}
}

// runUnreadableIndex puts each hostile index under a user's key (one user
// each, 9 and up, since some stores keep a deleted key from being created
// again for a while): logging
// in still works (the index starts again, with a log line), Sessions and
// LogoutAll say the index is unreadable instead of panicking or ending
// nothing in silence, and after the next login both work.
func runUnreadableIndex(t *testing.T, newStore func(t *testing.T) runtime.Store) {
	ctx := context.Background()
	uid := int64(9)
	for name, rec := range hostileIndexes {
		uid++
		t.Run(name, func(t *testing.T) {
			store := newStore(t)
			a := NewApp(t, store)
			key := ownerIndexKey("Scenario", strconv.FormatInt(uid, 10))
			put(t, store, key, rec)
			if _, err := a.Mgr.Sessions(ctx, uid); err == nil || !strings.Contains(err.Error(), "owner") {
				t.Fatalf("Sessions over an unreadable index: %v, want an error", err)
			}
			if err := a.Mgr.LogoutAll(ctx, uid); err == nil {
				t.Fatal("LogoutAll over an unreadable index returned nil: it ended nothing")
			}
			_, cookie := a.Call(t, fmt.Sprintf("/login?uid=%d&dev=laptop", uid), "")
			if me, _ := a.Call(t, "/me", cookie); me != fmt.Sprintf("%d laptop", uid) {
				t.Fatalf("login over an unreadable index: %q", me)
			}
			if list, err := a.Mgr.Sessions(ctx, uid); err != nil || len(list) != 1 {
				t.Fatalf("after the login: %d sessions, %v", len(list), err)
			}
			if err := a.Mgr.LogoutAll(ctx, uid); err != nil {
				t.Fatal(err)
			}
			if me, _ := a.Call(t, "/me", cookie); me != "0 " {
				t.Fatalf("after LogoutAll: %q", me)
			}
		})
	}
}

// holdingStore holds the first create of a session record (not an index)
// after arm until release is closed, telling indexed when it starts to.
type holdingStore struct {
	runtime.Store
	armed            atomic.Bool
	indexed, release chan struct{}
}

// Save holds the armed create.
func (s *holdingStore) Save(ctx context.Context, key string, rec []byte, v uint64, exp time.Time) (uint64, error) {
	if v == 0 && !strings.HasPrefix(key, "owner-") && s.armed.CompareAndSwap(true, false) {
		close(s.indexed)
		<-s.release
	}
	return s.Store.Save(ctx, key, rec, v, exp)
}

// runLogoutAllDuringALogin: LogoutAll runs while a login of the same
// owner has indexed its key but not yet stored its record. The login's
// session, once stored, must be listed (so that a later LogoutAll ends
// it); before, LogoutAll dropped the entry it could not load and the
// session lived on, listed nowhere.
func runLogoutAllDuringALogin(t *testing.T, newStore func(t *testing.T) runtime.Store) {
	ctx := context.Background()
	hold := &holdingStore{Store: newStore(t), indexed: make(chan struct{}), release: make(chan struct{})}
	a := NewApp(t, hold)
	const uid = 31
	_, laptop := a.Call(t, fmt.Sprintf("/login?uid=%d&dev=laptop", uid), "")
	hold.armed.Store(true)
	done := make(chan string)
	go func() {
		req := httptest.NewRequest("GET", fmt.Sprintf("/login?uid=%d&dev=phone", uid), nil)
		rec := httptest.NewRecorder()
		a.h.ServeHTTP(rec, req)
		cookie := ""
		if c := rec.Result().Cookies(); len(c) > 0 {
			cookie = c[0].Name + "=" + c[0].Value
		}
		done <- cookie
	}()
	<-hold.indexed
	if err := a.Mgr.LogoutAll(ctx, uid); err != nil {
		t.Fatal(err)
	}
	close(hold.release)
	phone := <-done
	if me, _ := a.Call(t, "/me", laptop); me != "0 " {
		t.Fatalf("the laptop after LogoutAll: %q", me)
	}
	live := 0
	if me, _ := a.Call(t, "/me", phone); me == fmt.Sprintf("%d phone", uid) {
		live = 1
	}
	list, err := a.Mgr.Sessions(ctx, uid)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != live {
		t.Fatalf("the login that overlapped LogoutAll: %d live, %d listed; every live session must be listed", live, len(list))
	}
	if err := a.Mgr.LogoutAll(ctx, uid); err != nil {
		t.Fatal(err)
	}
	if me, _ := a.Call(t, "/me", phone); me != "0 " {
		t.Fatalf("the phone after a second LogoutAll: %q", me)
	}
}
