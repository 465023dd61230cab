package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessiongen/sessiongen/runtime"
	"github.com/vmihailenco/msgpack/v5"
)

// noCAS wraps a store and turns every compare-and-swap into a plain
// overwrite, as session libraries without concurrency control write: the
// later request's whole record wins.
type noCAS struct{ runtime.Store }

// Save overwrites whatever is stored. A store that keeps its create from
// overwriting a tombstone makes it give up after 100 tries.
func (s noCAS) Save(ctx context.Context, key string, rec []byte, version uint64, expiry time.Time) (uint64, error) {
	if version == 0 {
		return s.Store.Save(ctx, key, rec, 0, expiry)
	}
	for range 100 {
		_, current, err := s.Store.Load(ctx, key)
		if errors.Is(err, runtime.ErrNotFound) {
			_, err = s.Store.Save(ctx, key, rec, 0, expiry) // re-creates a deleted record
		} else if err == nil {
			_, err = s.Store.Save(ctx, key, rec, current, expiry)
		}
		if !errors.Is(err, runtime.ErrConflict) {
			return 0, err
		}
	}
	return 0, fmt.Errorf("no-CAS save: %w", runtime.ErrConflict)
}

// conflictCounter counts the saves that lost a compare-and-swap race and
// remembers the last key written.
type conflictCounter struct {
	runtime.Store
	Conflicts atomic.Int64
	LastKey   atomic.Value // string
}

// Save counts ErrConflict answers.
func (s *conflictCounter) Save(ctx context.Context, key string, rec []byte, version uint64, expiry time.Time) (uint64, error) {
	s.LastKey.Store(key)
	next, err := s.Store.Save(ctx, key, rec, version, expiry)
	if errors.Is(err, runtime.ErrConflict) {
		s.Conflicts.Add(1)
	}
	return next, err
}

// Result is what an increment run observed.
type Result struct {
	Persisted int   // the counters' sum at the end
	Failed    int   // responses other than 200 (retried until 200)
	Conflicts int64 // CAS races lost and merged
	// Unsure counts the 503s that said the outcome was unknown (the store
	// did not answer a write, nor the read-back): such a write may have
	// landed, and the client's retry then applies the change twice.
	Unsure int
}

// lostNone reports whether an increment run lost nothing and applied no
// change twice but where the store left the outcome unknown.
func (r Result) lostNone(want int) bool {
	return r.Persisted >= want && r.Persisted <= want+r.Unsure && r.Failed <= MaxFailed(want)
}

// Increments runs clients goroutines, released together, each making
// each requests that increment its own counter of one shared session
// (retrying any request that did not answer 200), and returns what the
// store holds at the end. With managers > 1 the clients take turns among
// that many managers on the one store, as processes of one application
// do: then only the store's compare-and-swap keeps their writes apart.
func Increments(t testing.TB, store runtime.Store, managers, clients, each int) Result {
	counting := &conflictCounter{Store: store}
	a, cookie, failed, unsure := hammer(t, counting, managers, clients, each, func(c, _ int) string { return "/incr?i=" + strconv.Itoa(c%16) })
	var sum int
	fmt.Sscan(a.Do("/sum", cookie).Body.String(), &sum)
	n := 0
	for _, u := range unsure {
		n += u
	}
	return Result{Persisted: sum, Failed: failed, Conflicts: counting.Conflicts.Load(), Unsure: n}
}

// Appends runs clients goroutines, released together, over managers
// managers on store, each making each requests that append a distinct
// item to one list field (and put a distinct key in one map field) of one
// shared session through the Update methods, retrying any request that
// did not answer 200. It returns the list and the map's keys as stored.
// unsure counts, by item, the answers that left a request's outcome
// unknown: that item may be stored twice.
func Appends(t testing.TB, store runtime.Store, managers, clients, each int) (items, keys []string, failed int, unsure map[string]int) {
	a, cookie, failed, unsureByPath := hammer(t, store, managers, clients, each, func(c, n int) string {
		if n%2 == 1 {
			return fmt.Sprintf("/tag?k=c%d-%d", c, n)
		}
		return fmt.Sprintf("/append?v=c%d-%d", c, n)
	})
	list, tags, _ := strings.Cut(a.Do("/items", cookie).Body.String(), "|")
	unsure = map[string]int{}
	for path, n := range unsureByPath {
		_, item, _ := strings.Cut(path, "=")
		unsure[item] += n
	}
	return strings.Split(list, ","), strings.Split(tags, ","), failed, unsure
}

// hammer serves one session through managers managers on store (as
// processes of one application share a store: then only the store's
// compare-and-swap keeps their writes apart) and runs clients goroutines,
// released together, each making each requests to path(client, n) on
// manager client%managers, retrying any that did not answer 200. It
// returns the first manager's app and the session's cookie, to read the
// result, how many requests were retried, and, by path, how many answers
// said the outcome was unknown.
func hammer(t testing.TB, store runtime.Store, managers, clients, each int, path func(c, n int) string) (*App, string, int, map[string]int) {
	apps := make([]*App, managers)
	for i := range apps {
		apps[i] = NewApp(t, store)
		t.Cleanup(func() { apps[i].Mgr.Close() })
	}
	cookie := apps[0].Start()
	var failed atomic.Int64
	var mu sync.Mutex
	unsure := map[string]int{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for n := range each {
				for {
					rec := apps[c%managers].Do(path(c, n), cookie)
					if rec.Code == 200 {
						break
					}
					failed.Add(1)
					if strings.Contains(rec.Body.String(), "may or may not have been saved") {
						mu.Lock()
						unsure[path(c, n)]++
						mu.Unlock()
					}
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	return apps[0], cookie, int(failed.Load()), unsure
}

// SaveAfterLogout holds a request between its load and its save while the
// same session logs out, then lets it save. It returns whether the old
// session's record exists afterwards (it must not: a logout is never undone).
func SaveAfterLogout(t testing.TB, store runtime.Store) (resurrected bool) {
	a := NewApp(t, store)
	defer a.Mgr.Close()
	cookie := a.Start()
	loaded, proceed := make(chan struct{}), make(chan struct{})
	a.loaded = func(*http.Request) { close(loaded); <-proceed }
	done := make(chan struct{})
	go func() { defer close(done); a.DoHeld("/incr?i=1", cookie) }()
	<-loaded
	if rec := a.Do("/logout", cookie); rec.Code != 200 {
		t.Fatalf("logout: %d", rec.Code)
	}
	close(proceed)
	<-done
	a.loaded = nil
	var sum int
	var note string
	var bal int64
	fmt.Sscan(a.Do("/sum", cookie).Body.String(), &sum, &bal, &note)
	return sum != 0 || note != ""
}

// Interleave holds request first between its load and its save, serves
// second in full, then lets first finish. It returns both recorders.
func Interleave(t testing.TB, a *App, cookie, first, second string) (*httptest.ResponseRecorder, *httptest.ResponseRecorder) {
	return interleaveAcross(t, a, a, cookie, first, second)
}

// MaxFailed is how many of n requests on one session, hammered without a
// pause from two managers, may fail (and be retried by their client): a
// save that loses 16 compare-and-swap races in a row to the other
// process's writers gives up with ErrConflict, or a statement outlives
// the store's timeout on a loaded machine. Measured: 0 in most runs, 1 of
// 1,600 in about one run in ten. Nothing may be lost either way.
func MaxFailed(n int) int { return n / 200 }

// RunLostUpdates runs every lost-update scenario against stores made by newStore.
func RunLostUpdates(t *testing.T, newStore func(t *testing.T) runtime.Store) {
	runLostUpdates(t, newStore, false, false)
}

// RunLostUpdatesSlow is RunLostUpdates for a slow server (FerretDB writes one document at a
// time): it leaves out the one-manager increments, which the two-manager
// run covers, and the proof that the scenario races without
// compare-and-swap, which does not depend on the store.
func RunLostUpdatesSlow(t *testing.T, newStore func(t *testing.T) runtime.Store) {
	runLostUpdates(t, newStore, true, false)
}

// RunLostUpdatesTombstones is RunLostUpdates for a store that leaves a tombstone where a
// session ended (memcached with replicas): there, even a save without
// compare-and-swap cannot bring an ended session back, and the test
// checks that instead of the proof that the scenario races.
func RunLostUpdatesTombstones(t *testing.T, newStore func(t *testing.T) runtime.Store) {
	runLostUpdates(t, newStore, false, true)
}

// runLostUpdates runs the scenarios; slow leaves out what RunSlow does, tombstones
// checks what RunTombstones does.
func runLostUpdates(t *testing.T, newStore func(t *testing.T) runtime.Store, slow, tombstones bool) {
	skipIfSlow := func(t *testing.T) {
		if slow {
			t.Skip("covered by the other scenarios; the server is slow")
		}
	}
	t.Run("DisjointFieldsLoseNothing", func(t *testing.T) {
		skipIfSlow(t)
		r := Increments(t, newStore(t), 1, 16, 200)
		t.Logf("with merging: %d of 3200 increments persisted, %d conflicts merged and retried, %d requests failed (%d with the outcome unknown)", r.Persisted, r.Conflicts, r.Failed, r.Unsure)
		// One manager takes turns, so no save gives up on conflicts; a
		// request may still time out (a 503, retried by its client) when
		// 16 writers under -race wait for a connection on a small machine.
		if !r.lostNone(3200) {
			t.Fatalf("%d of 3200 increments persisted, %d requests failed (%d with the outcome unknown)", r.Persisted, r.Failed, r.Unsure)
		}
	})
	t.Run("SecondSaveNeedsNoReload", func(t *testing.T) { secondSave(t, newStore(t)) })
	t.Run("TwoManagersLoseNothing", func(t *testing.T) { // two processes: only the store's CAS keeps them apart
		r := Increments(t, newStore(t), 2, 16, 200)
		t.Logf("two managers: %d of 3200 increments persisted, %d conflicts merged and retried, %d requests failed (%d with the outcome unknown)", r.Persisted, r.Conflicts, r.Failed, r.Unsure)
		if !r.lostNone(3200) {
			t.Fatalf("%d of 3200 increments persisted, %d requests failed (%d with the outcome unknown)", r.Persisted, r.Failed, r.Unsure)
		}
	})
	t.Run("UpdatesOfOneFieldLoseNothing", func(t *testing.T) { // overlapping Update calls replay on conflict
		items, keys, failed, unsure := Appends(t, newStore(t), 2, 16, 100)
		t.Logf("two managers, 16 clients × 50 appends and 50 map puts on one field each: %d items, %d keys kept, %d requests failed", len(items), len(keys), failed)
		want := map[string]bool{}
		for c := range 16 {
			for n := range 100 {
				want[fmt.Sprintf("c%d-%d", c, n)] = true
			}
		}
		seen := map[string]int{}
		for _, it := range append(items, keys...) {
			seen[it]++
		}
		// Once each; twice only where the client retried a request the
		// store left with an unknown outcome (its first write landed).
		extra := 0
		for it := range want {
			if seen[it] < 1 || seen[it] > 1+unsure[it] {
				t.Errorf("%s stored %d times, want once (its request's outcome was unknown %d times)", it, seen[it], unsure[it])
			}
			extra += seen[it] - 1
		}
		if len(items)+len(keys)-extra != 1600 || failed > MaxFailed(1600) {
			t.Fatalf("%d of 800 items and %d of 800 keys kept, %d requests failed", len(items), len(keys), failed)
		}
	})
	t.Run("SettersAndUpdatesKeepTheirOrder", func(t *testing.T) {
		a := NewApp(t, newStore(t))
		defer a.Mgr.Close()
		cookie := a.Start()
		// Within a request: a setter then an update, both, in order.
		a.Do("/mixed", cookie)
		if got := a.Do("/items", cookie).Body.String(); got != "set,then-updated|" {
			t.Fatalf("set then update: %q", got)
		}
		// Across requests: an update racing an update keeps both...
		before := a.Mgr.Stats().Overwritten
		r1, r2 := Interleave(t, a, cookie, "/append?v=held", "/append?v=quick")
		if r1.Code != 200 || r2.Code != 200 {
			t.Fatalf("%d %d", r1.Code, r2.Code)
		}
		if got := a.Do("/items", cookie).Body.String(); got != "set,then-updated,quick,held|" {
			t.Fatalf("update racing an update: %q, want both appends", got)
		}
		if n := a.Mgr.Stats().Overwritten - before; n != 0 {
			t.Fatalf("Overwritten moved by %d for replayed updates", n)
		}
		// ...a setter racing an update wins, and says so...
		Interleave(t, a, cookie, "/set-items?v=blind", "/append?v=lost")
		if got := a.Do("/items", cookie).Body.String(); got != "blind|" {
			t.Fatalf("setter racing an update: %q, want the later setter's value", got)
		}
		if n := a.Mgr.Stats().Overwritten - before; n != 1 {
			t.Fatalf("Overwritten moved by %d for one blind write over another's change, want 1", n)
		}
		// ...and neither a blind write over an unchanged field nor one
		// racing a change of another field counts.
		Interleave(t, a, cookie, "/set-items?v=again", "/note?v=other")
		a.Do("/set-items?v=alone", cookie)
		if n := a.Mgr.Stats().Overwritten - before; n != 1 {
			t.Fatalf("Overwritten moved by %d, want still 1", n)
		}
	})
	t.Run("IDChanges", func(t *testing.T) { runIDChanges(t, newStore) })
	t.Run("AClientThatHangsUpLosesNothing", func(t *testing.T) { runHangUps(t, newStore(t)) })
	t.Run("WithoutCASUpdatesAreLost", func(t *testing.T) { // proof that the test above can fail
		skipIfSlow(t)
		r := Increments(t, noCAS{newStore(t)}, 2, 16, 200)
		t.Logf("without compare-and-swap: %d of 3200 increments persisted, %d lost", r.Persisted, 3200-r.Persisted)
		if r.Persisted >= 3200 {
			t.Fatalf("%d of 3200 increments persisted without CAS: the scenario does not race", r.Persisted)
		}
	})
	t.Run("LogoutIsNeverUndone", func(t *testing.T) {
		if SaveAfterLogout(t, newStore(t)) {
			t.Fatal("a save that loaded before a logout re-created the session")
		}
		if tombstones {
			if SaveAfterLogout(t, noCAS{newStore(t)}) {
				t.Fatal("a save without compare-and-swap re-created a session over its tombstone")
			}
			return
		}
		if !SaveAfterLogout(t, noCAS{newStore(t)}) {
			t.Fatal("without CAS the held save did not resurrect the session: the scenario does not race")
		}
	})
	t.Run("UnknownFieldsSurviveAMerge", func(t *testing.T) { // §3, rolling deploys
		store := &conflictCounter{Store: newStore(t)}
		a := NewApp(t, store)
		defer a.Mgr.Close()
		cookie := a.Start()
		key := store.LastKey.Load().(string)
		addField(t, store, key, "future", "written by the next release")
		// The held request's CAS loses to the quick one and merges.
		r1, r2 := Interleave(t, a, cookie, "/incr?i=3", "/note?v=quick")
		if r1.Code != 200 || r2.Code != 200 {
			t.Fatalf("%d %d", r1.Code, r2.Code)
		}
		if got := fieldOf(t, store, key, "future"); got != "written by the next release" {
			t.Fatalf("unknown field after a merge: %q", got)
		}
		if got := a.Do("/sum", cookie).Body.String(); got != "1 0 quick" {
			t.Fatalf("sum %q, want both changes", got)
		}
	})
	t.Run("ConflictErrorField", func(t *testing.T) {
		a := NewApp(t, newStore(t))
		defer a.Mgr.Close()
		cookie := a.Start()
		// Both change the balance: the held request's Save fails, naming the field.
		r1, r2 := Interleave(t, a, cookie, "/bal?add=10&save=1", "/bal?add=5")
		if r2.Code != 200 || r1.Code != http.StatusConflict || r1.Body.String() != "conflict on bal\n" {
			t.Fatalf("second %d, first %d %q: want the held one to see a conflict on bal", r2.Code, r1.Code, r1.Body)
		}
		// Without calling Save, the error handler answers 409.
		r1, _ = Interleave(t, a, cookie, "/bal?add=10", "/bal?add=5")
		if r1.Code != http.StatusConflict {
			t.Fatalf("unsaved conflicting write answered %d, want 409 from the error handler", r1.Code)
		}
		if got := a.Do("/sum", cookie).Body.String(); got != "0 10 start" {
			t.Fatalf("sum %q: want balance 10 (the two +5 writes), no lost note", got)
		}
		// A balance change racing a change of another field is no conflict.
		r1, r2 = Interleave(t, a, cookie, "/bal?add=1&save=1", "/note?v=other")
		if r1.Code != 200 || r2.Code != 200 {
			t.Fatalf("disjoint fields: %d %d", r1.Code, r2.Code)
		}
		// A plain field written twice: the later writer wins, without error.
		r1, r2 = Interleave(t, a, cookie, "/note?v=held", "/note?v=quick")
		if r1.Code != 200 || r2.Code != 200 {
			t.Fatalf("last-writer field: %d %d", r1.Code, r2.Code)
		}
		if got := a.Do("/sum", cookie).Body.String(); got != "0 11 held" {
			t.Fatalf("sum %q, want \"0 11 held\"", got)
		}
	})
}

// addField adds a key to the stored record, as a newer release of the
// application would.
func addField(t testing.TB, store runtime.Store, key, field string, value any) {
	t.Helper()
	rec, ver, err := store.Load(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	h, fields := splitRecord(t, rec)
	fields[field] = value
	var buf bytes.Buffer
	buf.WriteByte(rec[0])
	enc := msgpack.NewEncoder(&buf)
	for _, n := range h {
		enc.EncodeInt(n)
	}
	enc.Encode(fields)
	if _, err := store.Save(context.Background(), key, buf.Bytes(), ver, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
}

// fieldOf returns one field of the stored record, as a string.
func fieldOf(t testing.TB, store runtime.Store, key, field string) string {
	t.Helper()
	rec, _, err := store.Load(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	_, fields := splitRecord(t, rec)
	s, _ := fields[field].(string)
	return s
}

// splitRecord reads a record: a version byte, the header's three
// integers (created, flags, issued), a map.
func splitRecord(t testing.TB, rec []byte) (header [3]int64, fields map[string]any) {
	t.Helper()
	dec := msgpack.NewDecoder(bytes.NewReader(rec[1:]))
	var err error
	for i := range header {
		if header[i], err = dec.DecodeInt64(); err != nil {
			t.Fatal(err)
		}
	}
	if fields, err = dec.DecodeMap(); err != nil {
		t.Fatal(err)
	}
	return header, fields
}

// secondSave: a request that saves twice (an explicit Save, then the end
// of the request) loads its session once, when the store says which
// version its writes leave (Store.Save's answer), and once more before
// the second write when it cannot tell (0). Both writes land.
func secondSave(t *testing.T, store runtime.Store) {
	probe := "storetest-version-probe-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	v, err := store.Save(ctx, probe, []byte("probe"), 0, hour())
	if err != nil {
		t.Fatal(err)
	}
	store.Delete(ctx, probe)
	a := NewApp(t, store)
	cookie := a.Start()
	for i := range 3 {
		before := a.ops.count()
		if rec := a.Do("/twice", cookie); rec.Code != 200 {
			t.Fatalf("/twice: %d %s", rec.Code, rec.Body)
		}
		ops := sub(a.ops.count(), before)
		loads := int64(1)
		if v == 0 {
			loads = 2 // the store cannot tell the version of its write
		}
		if ops[0] != loads || ops[1] != 2 {
			t.Fatalf("request %d saving twice: %d loads and %d saves; want %d and 2 (Save returned version %d)", i, ops[0], ops[1], loads, v)
		}
	}
	if got, _ := a.Call(t, "/sum", cookie); !strings.HasPrefix(got, "6 ") {
		t.Fatalf("after 3 requests adding 2 each: %q, want 6", got)
	}
}
