package runtime

import (
	"sync"
	"sync/atomic"
)

// saveTurns lets the saves of one session within a process take turns, so
// that overlapping requests of one visitor do not keep re-racing each
// other's compare-and-swap: only another process can then make a retried
// save fail. A turn belongs to one session (its store key), so a session
// whose store hangs holds up no other session, and the table holds only
// the sessions being saved right now.
type saveTurns struct {
	shards [64]turnShard
}

type turnShard struct {
	mu    sync.Mutex
	turns map[string]*turn
}

// turn is held by the request saving a session; waiters counts the
// requests holding it or waiting for it, so the last one out removes it.
// writes counts the records its holders wrote: a request that sees it
// move while it waited knows the version it loaded is gone.
type turn struct {
	mu      sync.Mutex
	waiters int
	writes  atomic.Uint64
}

var turnPool = sync.Pool{New: func() any { return new(turn) }}

// take waits for the turn of the session stored under key (hash is the
// key's hash) and returns it, and whether a holder wrote the session
// while this request waited; give it back with give.
func (t *saveTurns) take(key string, hash uint64) (*turn, bool) {
	sh := &t.shards[hash%uint64(len(t.shards))]
	sh.mu.Lock()
	tn := sh.turns[key]
	if tn == nil {
		if sh.turns == nil {
			sh.turns = make(map[string]*turn)
		}
		tn = turnPool.Get().(*turn)
		sh.turns[key] = tn
	}
	tn.waiters++
	before := tn.writes.Load()
	sh.mu.Unlock()
	tn.mu.Lock()
	return tn, tn.writes.Load() != before
}

// give returns a turn taken with take(key, hash).
func (t *saveTurns) give(key string, hash uint64, tn *turn) {
	tn.mu.Unlock()
	sh := &t.shards[hash%uint64(len(t.shards))]
	sh.mu.Lock()
	if tn.waiters--; tn.waiters == 0 {
		delete(sh.turns, key)
		turnPool.Put(tn)
	}
	sh.mu.Unlock()
}
