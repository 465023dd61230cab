package storetest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessiongen/sessiongen/runtime"
)

// events records what Config.OnEvent reports.
type events struct {
	mu  sync.Mutex
	all []runtime.Event
}

func (e *events) add(_ context.Context, ev runtime.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.all = append(e.all, ev)
}

// take returns the events so far and forgets them.
func (e *events) take() []runtime.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	all := e.all
	e.all = nil
	return all
}

// count returns how many events of kind each key got.
func count(evs []runtime.Event, kind runtime.EventKind) map[string]int {
	n := map[string]int{}
	for _, e := range evs {
		if e.Kind == kind {
			n[e.Key]++
		}
	}
	return n
}

// describe lists events for a failure message.
func describe(evs []runtime.Event) string {
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&b, "%s %.8s… owner %q; ", e.Kind, e.Key, e.Owner)
	}
	return b.String()
}

// RunEvents checks Config.OnEvent on stores made by newStore, with two
// managers sharing one store (two instances of an application), where
// only the store's compare-and-swap keeps them apart: every create,
// regeneration, renewal and end of a session is reported once, never
// twice and never for a save that failed; a hook that panics costs the
// request nothing.
func RunEvents(t *testing.T, newStore func(t *testing.T) runtime.Store) {
	pair := func(t *testing.T, cfg runtime.Config) (*App, *App, *events) {
		rec := &events{}
		cfg.Store, cfg.OnEvent = newStore(t), rec.add
		return newApp(t, cfg), newApp(t, cfg), rec
	}
	t.Run("CreatedOncePerLogin", func(t *testing.T) {
		a, b, rec := pair(t, runtime.Config{})
		keys := map[string]bool{}
		for i := range 6 {
			app := []*App{a, b}[i%2]
			_, key := app.Login("user" + strconv.Itoa(i))
			keys[key] = true
		}
		evs := rec.take()
		created := count(evs, runtime.EventCreated)
		if len(evs) != 6 || len(created) != 6 {
			t.Fatalf("6 logins through two managers: %d events (%s), want 6 created", len(evs), describe(evs))
		}
		for k := range created {
			if !keys[k] {
				t.Fatalf("an event names key %.8s…, which no login stored", k)
			}
		}
		// Reads and writes of a live session are no events.
		cookie, _ := a.Login("ada")
		rec.take()
		a.Call(t, "/write?v=x", cookie)
		b.Call(t, "/read", cookie)
		if evs := rec.take(); len(evs) != 0 {
			t.Fatalf("a write and a read: events %s, want none", describe(evs))
		}
	})
	t.Run("RegeneratedOnce", func(t *testing.T) {
		a, b, rec := pair(t, runtime.Config{})
		cookie, old := a.Login("ada")
		rec.take()
		b.Call(t, "/regen?v=admin", cookie)
		evs := rec.take()
		if len(evs) != 1 || evs[0].Kind != runtime.EventRegenerated || evs[0].Key == old || evs[0].Request == nil {
			t.Fatalf("Regenerate: events %s, want one regenerated under a new key, with its request", describe(evs))
		}
	})
	t.Run("DestroyedOnceWhenTwoLogoutsRace", func(t *testing.T) {
		a, b, rec := pair(t, runtime.Config{})
		for round := range 5 {
			cookie, key := a.Login("ada" + strconv.Itoa(round))
			rec.take()
			var wg sync.WaitGroup
			for i := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					[]*App{a, b}[i%2].Do("/logout", cookie)
				}()
			}
			wg.Wait()
			evs := rec.take()
			if n := count(evs, runtime.EventDestroyed); len(evs) != 1 || n[key] != 1 {
				t.Fatalf("round %d: 8 logouts of one session through two managers: events %s, want one destroyed", round, describe(evs))
			}
		}
	})
	t.Run("LogoutAllReportsEachSessionOnce", func(t *testing.T) {
		a, b, rec := pair(t, runtime.Config{})
		uid := time.Now().UnixNano()
		keys := map[string]bool{}
		for i, dev := range []string{"phone", "laptop", "tablet", "desk"} {
			app := []*App{a, b}[i%2]
			app.Call(t, fmt.Sprintf("/login?uid=%d&dev=%s", uid, dev), "")
			keys[app.lastKey.Load().(string)] = true
		}
		rec.take()
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, app := range []*App{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = app.Mgr.LogoutAll(context.Background(), uid)
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		evs := rec.take()
		destroyed := count(evs, runtime.EventDestroyed)
		if len(evs) != 4 || len(destroyed) != 4 {
			t.Fatalf("two LogoutAll at once of 4 sessions: events %s, want 4 destroyed, each once", describe(evs))
		}
		for _, e := range evs {
			if !keys[e.Key] || e.Owner != strconv.FormatInt(uid, 10) || e.Request != nil {
				t.Fatalf("event %s %.8s… owner %q request %v: want a key of the user's, owner %d, no request", e.Kind, e.Key, e.Owner, e.Request, uid)
			}
		}
	})
	t.Run("RenewedOnceWhenRequestsRace", func(t *testing.T) {
		// An ID's age counts in whole seconds: with RenewAfter 2 s, the new
		// ID is due again at least a second after the renewal, and the
		// requests following the old one have a second of grace; with 1 s,
		// a loaded machine saw a second, legitimate, renewal.
		a, b, rec := pair(t, runtime.Config{RenewAfter: 2 * time.Second, RenewGrace: time.Second})
		cookie := a.Start()
		rec.take()
		time.Sleep(2100 * time.Millisecond) // the ID is due for renewal
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				[]*App{a, b}[i%2].Do("/note?v=x"+strconv.Itoa(i), cookie)
			}()
		}
		wg.Wait()
		evs := rec.take()
		if len(evs) != 1 || evs[0].Kind != runtime.EventRenewed {
			t.Fatalf("8 requests of a session due for renewal, through two managers: events %s, want one renewed", describe(evs))
		}
	})
	t.Run("NoEventForAFailedSave", func(t *testing.T) {
		rec := &events{}
		a := newApp(t, runtime.Config{Store: refusing{newStore(t)}, OnEvent: rec.add})
		if code := a.Do("/login?v=ada", "").Code; code != 503 {
			t.Fatalf("a login the store refused: %d, want 503", code)
		}
		if evs := rec.take(); len(evs) != 0 {
			t.Fatalf("a login the store refused: events %s, want none", describe(evs))
		}
	})
	t.Run("APanickingHookCostsTheRequestNothing", func(t *testing.T) {
		a := newApp(t, runtime.Config{Store: newStore(t), OnEvent: func(context.Context, runtime.Event) { panic("hook bug") }})
		cookie, _ := a.Login("ada")
		if got, _ := a.Call(t, "/read", cookie); !strings.HasPrefix(got, "ada|") {
			t.Fatalf("after a login whose hook panicked, the session reads %q", got)
		}
		if !strings.Contains(a.Logs(), "OnEvent panicked") {
			t.Fatalf("the hook's panic was not logged:\n%s", a.Logs())
		}
	})
}

// refusing is a store that refuses every write.
type refusing struct{ runtime.Store }

func (refusing) Save(context.Context, string, []byte, uint64, time.Time) (uint64, error) {
	return 0, runtime.ErrUnavailable
}
