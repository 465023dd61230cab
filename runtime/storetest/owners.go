package storetest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessiongen/sessiongen/runtime"
)

// RunOwners runs the scenarios on stores made by newStore (each call may return
// the same store, or a new client of the same server).
func RunOwners(t *testing.T, newStore func(t *testing.T) runtime.Store) {
	ctx := context.Background()
	t.Run("UnreadableIndex", func(t *testing.T) { runUnreadableIndex(t, newStore) })
	t.Run("LogoutAllDuringALogin", func(t *testing.T) { runLogoutAllDuringALogin(t, newStore) })
	t.Run("Limit", func(t *testing.T) { runLimit(t, newStore) })
	t.Run("ListEndAndLogoutAll", func(t *testing.T) {
		a, b := NewApp(t, newStore(t)), NewApp(t, newStore(t)) // two processes
		uid := time.Now().UnixNano()                           // distinct per run on a shared server
		_, phone := a.Call(t, fmt.Sprintf("/login?uid=%d&dev=phone", uid), "")
		_, laptop := b.Call(t, fmt.Sprintf("/login?uid=%d&dev=laptop", uid), "")
		_, tablet := a.Call(t, fmt.Sprintf("/login?uid=%d&dev=tablet", uid), "")
		_, other := b.Call(t, fmt.Sprintf("/login?uid=%d&dev=desk", uid+1), "")

		list, err := b.Mgr.Sessions(ctx, uid)
		if err != nil || len(list) != 3 {
			t.Fatalf("Sessions after three logins through two managers: %d, %v; want 3", len(list), err)
		}
		for _, s := range list {
			if s.Created.IsZero() || s.Issued.Before(s.Created) || s.LastWrite.Before(s.Issued) || s.Current {
				t.Fatalf("listed session: %+v", s)
			}
		}
		if got, _ := a.Call(t, "/devices", laptop); got != "*.." && got != ".*." && got != "..*" {
			t.Fatalf("/devices from one of the three: %q, want three with one current", got)
		}

		// End one from the list: the laptop (listed second, by creation).
		if err := list[1].End(ctx); err != nil {
			t.Fatal(err)
		}
		if got, _ := a.Call(t, "/me", laptop); got != "0 " {
			t.Fatalf("the ended session still answers %q", got)
		}
		// A session that changes owner leaves the old owner's list.
		_, tablet = a.Call(t, fmt.Sprintf("/login?uid=%d&dev=tablet", uid+2), tablet)
		if list, _ := a.Mgr.Sessions(ctx, uid); len(list) != 1 {
			t.Fatalf("after one ended and one changed owner: %d listed, want 1", len(list))
		}

		if err := b.Mgr.LogoutAll(ctx, uid); err != nil {
			t.Fatal(err)
		}
		for _, app := range []*App{a, b} {
			if got, _ := app.Call(t, "/me", phone); got != "0 " {
				t.Fatalf("after LogoutAll the phone's session answers %q", got)
			}
		}
		if got, _ := a.Call(t, "/me", other); got != fmt.Sprintf("%d desk", uid+1) {
			t.Fatalf("another user's session after LogoutAll: %q", got)
		}
		if got, _ := b.Call(t, "/me", tablet); got != fmt.Sprintf("%d tablet", uid+2) {
			t.Fatalf("the session that changed owner, after LogoutAll of the old owner: %q", got)
		}
		if list, _ := a.Mgr.Sessions(ctx, uid); len(list) != 0 {
			t.Fatalf("after LogoutAll: %d listed", len(list))
		}
	})
	t.Run("LastWriteMoves", func(t *testing.T) {
		a := NewApp(t, newStore(t))
		uid := time.Now().UnixNano()
		_, c := a.Call(t, fmt.Sprintf("/login?uid=%d&dev=phone", uid), "")
		time.Sleep(1100 * time.Millisecond) // the times are in seconds
		a.Call(t, "/dev?dev=renamed", c)
		list, err := a.Mgr.Sessions(ctx, uid)
		if err != nil || len(list) != 1 || !list[0].LastWrite.After(list[0].Issued) {
			t.Fatalf("after a write a second after login: %+v, %v; want LastWrite after Issued", list, err)
		}
	})
	t.Run("LogoutAllFromOneOfTheSessions", func(t *testing.T) {
		a, b := NewApp(t, newStore(t)), NewApp(t, newStore(t))
		uid := time.Now().UnixNano()
		_, one := a.Call(t, fmt.Sprintf("/login?uid=%d&dev=one", uid), "")
		_, two := b.Call(t, fmt.Sprintf("/login?uid=%d&dev=two", uid), "")
		a.Call(t, "/logout-all", one)
		for _, c := range []string{one, two} {
			if got, _ := b.Call(t, "/me", c); got != "0 " {
				t.Fatalf("after /logout-all: %q", got)
			}
		}
	})
	t.Run("CostOnlyWhenTheOwnerChanges", func(t *testing.T) {
		a := NewApp(t, newStore(t))
		uid := time.Now().UnixNano()
		before := a.ops.count()
		_, c := a.Call(t, fmt.Sprintf("/login?uid=%d&dev=phone", uid), "")
		login := a.ops.count()
		a.Call(t, "/dev?dev=renamed", c)
		write := a.ops.count()
		a.Call(t, "/me", c)
		read := a.ops.count()
		t.Logf("store operations [loads saves deletes]: login %v (a new session: 0 1 0 without an owner), device rename %v, read %v",
			sub(login, before), sub(write, login), sub(read, write))
		if sub(login, before) != [3]int64{1, 2, 0} || sub(write, login) != [3]int64{1, 1, 0} || sub(read, write) != [3]int64{1, 0, 0} {
			t.Fatal("want: a login that sets the owner pays one load and one save of the owner's index; other requests nothing")
		}
	})
	t.Run("LastSeenWithoutAWritePerRequest", func(t *testing.T) {
		// A tenth of the idle timeout: two seconds between touches.
		a := newApp(t, runtime.Config{Store: newStore(t), IdleTimeout: 20 * time.Second})
		uid := time.Now().UnixNano()
		_, c := a.Call(t, fmt.Sprintf("/login?uid=%d&dev=phone", uid), "")
		first, err := a.Mgr.Sessions(ctx, uid)
		if err != nil || len(first) != 1 || first[0].LastSeen.Before(first[0].LastWrite) {
			t.Fatalf("after the login: %+v, %v; want one session, last seen at its write", first, err)
		}
		before := a.ops.count()
		a.Call(t, "/me", c)
		if got := sub(a.ops.count(), before); got != [3]int64{1, 0, 0} {
			t.Fatalf("a read right after the login: store operations %v, want one load and no write", got)
		}
		time.Sleep(2100 * time.Millisecond)
		before = a.ops.count()
		a.Call(t, "/me", c)
		if got := sub(a.ops.count(), before); got != [3]int64{1, 1, 0} {
			t.Fatalf("a read once the idle deadline is due to move: store operations %v, want a load and a write instead of a touch", got)
		}
		list, err := a.Mgr.Sessions(ctx, uid)
		if err != nil || len(list) != 1 || !list[0].LastSeen.After(first[0].LastSeen) || !list[0].LastWrite.Equal(first[0].LastWrite) {
			t.Fatalf("after a read a second later: %+v, %v; want LastSeen later, LastWrite as it was", list, err)
		}
	})
	t.Run("ConcurrentLoginsAreAllListed", func(t *testing.T) {
		apps := []*App{NewApp(t, newStore(t)), NewApp(t, newStore(t))}
		uid := time.Now().UnixNano()
		var wg sync.WaitGroup
		cookies := make([]string, 16)
		for i := range cookies {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, cookies[i] = apps[i%2].Call(t, fmt.Sprintf("/login?uid=%d&dev=d%d", uid, i), "")
			}()
		}
		wg.Wait()
		list, err := apps[0].Mgr.Sessions(ctx, uid)
		t.Logf("16 concurrent logins of one user through two managers: %d listed", len(list))
		if err != nil || len(list) != 16 {
			t.Fatalf("%d listed, %v; want 16", len(list), err)
		}
		start := time.Now()
		if err := apps[1].Mgr.LogoutAll(ctx, uid); err != nil {
			t.Fatal(err)
		}
		t.Logf("LogoutAll of 16 sessions: %v (a load of the index, a load and a delete per session, a write of the index)", time.Since(start))
		for _, c := range cookies {
			if got, _ := apps[0].Call(t, "/me", c); got != "0 " {
				t.Fatalf("after LogoutAll: %q", got)
			}
		}
	})
}

func sub(a, b [3]int64) [3]int64 { return [3]int64{a[0] - b[0], a[1] - b[1], a[2] - b[2]} }

// opCounter counts a store's operations.
type opCounter struct {
	runtime.Store
	loads, saves, deletes atomic.Int64
}

// Load implements runtime.Store.
func (c *opCounter) Load(ctx context.Context, key string) ([]byte, uint64, error) {
	c.loads.Add(1)
	return c.Store.Load(ctx, key)
}

// Save implements runtime.Store.
func (c *opCounter) Save(ctx context.Context, key string, rec []byte, v uint64, exp time.Time) (uint64, error) {
	c.saves.Add(1)
	return c.Store.Save(ctx, key, rec, v, exp)
}

// Delete implements runtime.Store.
func (c *opCounter) Delete(ctx context.Context, key string) error {
	c.deletes.Add(1)
	return c.Store.Delete(ctx, key)
}

func (c *opCounter) count() [3]int64 {
	return [3]int64{c.loads.Load(), c.saves.Load(), c.deletes.Load()}
}

// RunLifecycle runs, on stores made by newStore, the suites of what
// happens to a session besides its data: per-owner logout and its limit
// (RunOwners), lifecycle events (RunEvents), and the revocation of sealed
// cookies with newStore's stores keeping the revocations
// (RunRevocation).
func RunLifecycle(t *testing.T, newStore func(t *testing.T) runtime.Store) {
	t.Run("Owners", func(t *testing.T) { RunOwners(t, newStore) })
	t.Run("Events", func(t *testing.T) { RunEvents(t, newStore) })
	t.Run("Revocation", func(t *testing.T) { RunRevocation(t, newStore) })
}
