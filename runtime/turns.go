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
//
// A holder that wrote while others queued hands them what it wrote (last,
// under lastKey, at the version lastVer the store gave it, the writes-th
// write): the next holder merges onto it instead of loading it again, and
// its compare-and-swap settles whether another process wrote since.
type turn struct {
	mu      sync.Mutex
	waiters int
	queued  atomic.Int32 // requests waiting for mu
	writes  atomic.Uint64
	// Guarded by mu.
	last    []byte
	lastKey string
	lastVer uint64
	lastAt  uint64
}

// wrote records that the holder wrote rec under key, which the store
// says is now at version ver (0: it cannot tell), and hands it to the
// requests queued for the turn.
func (tn *turn) wrote(key string, rec []byte, ver uint64) {
	n := tn.writes.Add(1)
	if ver == 0 || tn.queued.Load() == 0 {
		return
	}
	tn.last, tn.lastKey, tn.lastVer, tn.lastAt = append(tn.last[:0], rec...), key, ver, n
}

// handed returns a copy of the record the last holder wrote under key and
// its version, if it was the last write and the store said its version.
// Call holding the turn.
func (tn *turn) handed(key string) ([]byte, uint64, bool) {
	if tn == nil || tn.lastVer == 0 || tn.lastKey != key || tn.lastAt != tn.writes.Load() {
		return nil, 0, false
	}
	return append([]byte(nil), tn.last...), tn.lastVer, true
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
	tn.queued.Add(1)
	sh.mu.Unlock()
	tn.mu.Lock()
	tn.queued.Add(-1)
	return tn, tn.writes.Load() != before
}

// give returns a turn taken with take(key, hash).
func (t *saveTurns) give(key string, hash uint64, tn *turn) {
	tn.mu.Unlock()
	sh := &t.shards[hash%uint64(len(t.shards))]
	sh.mu.Lock()
	if tn.waiters--; tn.waiters == 0 {
		delete(sh.turns, key)
		tn.last, tn.lastKey, tn.lastVer = tn.last[:0], "", 0 // nothing of this session for the next
		turnPool.Put(tn)
	}
	sh.mu.Unlock()
}
