package runtime_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessiongen/sessiongen/internal/testsession"
	"github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/storetest"
)

// TestConcurrentRequests runs the lost-update scenarios on the memory store.
func TestConcurrentRequests(t *testing.T) {
	storetest.RunLostUpdates(t, func(t *testing.T) runtime.Store {
		s := runtime.NewMemoryStore()
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// blockingStore holds every Save of one key until released.
type blockingStore struct {
	runtime.Store
	key     atomic.Value // string
	blocked chan struct{}
	release chan struct{}
}

func (s *blockingStore) Save(ctx context.Context, key string, rec []byte, v uint64, exp time.Time) (uint64, error) {
	if k, _ := s.key.Load().(string); k == key {
		s.blocked <- struct{}{}
		<-s.release
	}
	return s.Store.Save(ctx, key, rec, v, exp)
}

// TestAHungSaveHoldsUpNoOtherSession holds one session's save inside the
// store and saves another session that shares its shard of the turn
// table: the second save completes while the first still hangs.
func TestAHungSaveHoldsUpNoOtherSession(t *testing.T) {
	mem := runtime.NewMemoryStore()
	defer mem.Close()
	bs := &blockingStore{Store: mem, blocked: make(chan struct{}, 1), release: make(chan struct{})}
	e := newEnv(t, runtime.Config{Store: bs}, routes)
	login := func() (*http.Cookie, string) {
		resp, _ := e.do(e.bare(), "/login", nil)
		c := sessionCookie(resp)
		_, id := e.do(e.bare(), "/id", c)
		return c, id
	}
	hungCookie, hungID := login()
	var other *http.Cookie
	for other == nil {
		c, id := login()
		if runtime.SameTurn(id, hungID) {
			other = c
		}
	}
	bs.key.Store(runtime.StoreKey(hungID))
	done := make(chan int)
	go func() {
		resp, _ := e.do(e.bare(), "/incr", hungCookie)
		done <- resp.StatusCode
	}()
	<-bs.blocked
	if resp, body := e.do(e.bare(), "/incr", other); resp.StatusCode != 200 || body != "1" {
		t.Fatalf("a session sharing the hung one's turn shard answered %d %q", resp.StatusCode, body)
	}
	close(bs.release)
	if code := <-done; code != 200 {
		t.Fatalf("the hung save answered %d once released", code)
	}
}

// handoffStore counts loads and holds the first save of one key until
// released.
type handoffStore struct {
	runtime.Store
	loads   atomic.Int64
	key     atomic.Value // string
	armed   atomic.Bool
	blocked chan struct{}
	release chan struct{}
}

func (s *handoffStore) Load(ctx context.Context, key string) ([]byte, uint64, error) {
	s.loads.Add(1)
	return s.Store.Load(ctx, key)
}

func (s *handoffStore) Save(ctx context.Context, key string, rec []byte, v uint64, exp time.Time) (uint64, error) {
	if k, _ := s.key.Load().(string); k == key && s.armed.CompareAndSwap(true, false) {
		close(s.blocked)
		<-s.release
	}
	return s.Store.Save(ctx, key, rec, v, exp)
}

// TestTheTurnHandsOverTheRecord: of two requests adding to one cart at
// once, the one that waited for the other's save merges onto the record
// that save wrote, which the turn hands over, and writes with no load of
// its own: 2 loads for 2 requests (3 when it reloaded), both adds kept,
// no compare-and-swap lost.
func TestTheTurnHandsOverTheRecord(t *testing.T) {
	mem := runtime.NewMemoryStore()
	defer mem.Close()
	hs := &handoffStore{Store: mem, blocked: make(chan struct{}), release: make(chan struct{})}
	add := func(w http.ResponseWriter, r *http.Request, v *visit) {
		v.UpdateCart(func(c *[]testsession.CartItem) { *c = append(*c, testsession.CartItem{SKU: r.URL.Query().Get("sku")}) })
	}
	e := newEnv(t, runtime.Config{Store: hs}, map[string]func(http.ResponseWriter, *http.Request, *visit){
		"/login": routes["/login"], "/id": routes["/id"], "/add": add,
		"/skus": func(w http.ResponseWriter, r *http.Request, v *visit) {
			for _, it := range v.Cart() {
				fmt.Fprint(w, it.SKU, " ")
			}
		},
	})
	resp, _ := e.do(e.bare(), "/login", nil)
	c := sessionCookie(resp)
	_, id := e.do(e.bare(), "/id", c)
	hs.key.Store(runtime.StoreKey(id))
	hs.armed.Store(true)
	before := hs.loads.Load()
	first := make(chan int)
	go func() {
		resp, _ := e.do(e.bare(), "/add?sku=tea", c)
		first <- resp.StatusCode
	}()
	<-hs.blocked // the first holds the turn, inside its save
	second := make(chan int)
	go func() {
		resp, _ := e.do(e.bare(), "/add?sku=mug", c)
		second <- resp.StatusCode
	}()
	for runtime.QueuedForTurn(e.mgr.Manager, id) == 0 {
		time.Sleep(time.Millisecond) // the second loaded and waits for the turn
	}
	close(hs.release)
	if a, b := <-first, <-second; a != 200 || b != 200 {
		t.Fatalf("the adds answered %d and %d", a, b)
	}
	if n := hs.loads.Load() - before; n != 2 {
		t.Errorf("%d loads for 2 requests; want 2: the second merges onto what the first wrote, handed over by the turn", n)
	}
	if _, cart := e.do(e.bare(), "/skus", c); !strings.Contains(cart, "tea") || !strings.Contains(cart, "mug") {
		t.Errorf("the cart after both adds: %q", cart)
	}
	if st := e.mgr.Stats(); st.Conflicts != 0 {
		t.Errorf("%d compare-and-swaps lost; want 0", st.Conflicts)
	}
}
