package runtime_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

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
