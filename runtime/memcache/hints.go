package memcache

import (
	"hash/maphash"
	"sync"
)

// hints remembers, from a Load to the Save that usually follows it in the
// same process, each replica's CAS value: with them a replicated save is
// one round trip per replica, as without replicas. A save that finds no
// hint (another process loaded, or it was dropped) reads each replica's
// version first. The table is bounded: a full shard is emptied.
type hints struct {
	seed   maphash.Seed
	shards [16]hintShard
}

type hintShard struct {
	mu sync.Mutex
	m  map[string]hint
}

// hint is what a Load saw: the version it returned and, per replica in
// rank order, the CAS value of its copy (0: no copy, or not asked).
type hint struct {
	version uint64
	cas     [maxReplicas]uint64
}

const hintsPerShard = 1024

func newHints() *hints {
	h := &hints{seed: maphash.MakeSeed()}
	for i := range h.shards {
		h.shards[i].m = make(map[string]hint)
	}
	return h
}

func (h *hints) shard(key string) *hintShard {
	return &h.shards[maphash.String(h.seed, key)%uint64(len(h.shards))]
}

func (h *hints) put(key string, v hint) {
	s := h.shard(key)
	s.mu.Lock()
	if len(s.m) >= hintsPerShard {
		clear(s.m)
	}
	s.m[key] = v
	s.mu.Unlock()
}

// take returns and forgets the hint for key if it was taken at version.
func (h *hints) take(key string, version uint64) (hint, bool) {
	s := h.shard(key)
	s.mu.Lock()
	v, ok := s.m[key]
	if ok {
		delete(s.m, key)
	}
	s.mu.Unlock()
	return v, ok && v.version == version
}
