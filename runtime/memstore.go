package runtime

import (
	"context"
	"crypto/sha256"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessiongen/sessiongen/runtime/internal/carry"
)

// MemoryStore is the in-process Store: sharded maps with expiry, a bound
// on the number of records, and a sweeper that removes expired ones. It
// keeps a private copy of every record it is given. Records do not survive
// a restart and are not shared between processes; use the memcached store
// for that.
type MemoryStore struct {
	shards   [memShards]memShard
	seed     maphash.Seed
	perShard int
	version  atomic.Uint64
	evicted  atomic.Uint64
	pause    atomic.Int64 // longest time the sweeper held one shard, ns
	now      func() time.Time

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	reports   carry.Reporters // managers with Config.OnEvent: the sweeper reports what expired
}

// ReportExpired implements the runtime's expiry reports: the sweeper
// calls f with each session record it removes as expired. A manager with
// Config.OnEvent registers itself; you need not call it.
func (s *MemoryStore) ReportExpired(f func(ctx context.Context, key string, rec []byte)) (stop func()) {
	return s.reports.Add(f)
}

const memShards = 64

type memShard struct {
	mu sync.RWMutex
	m  map[memKey]memEntry
}

// memKey is a store key held inside the map rather than as a string it
// points to: one object fewer per record for the GC to trace (a store of
// a million sessions is a million objects lighter, and sweeps in half
// the time, for 4% more memory).
// Keys of up to 47 bytes are held as they are (the runtime's are 43);
// longer ones by their SHA-256, marked so that they cannot equal a short
// key.
type memKey struct {
	n byte // the key's length; hashedKey for a hashed key
	b [47]byte
}

func keyOf(key string) (k memKey) {
	if len(key) <= len(k.b) {
		k.n = byte(len(key))
		copy(k.b[:], key)
		return k
	}
	d := sha256.Sum256([]byte(key))
	k.n = hashedKey
	copy(k.b[:], d[:])
	return k
}

// hashedKey is memKey.n for a key held by its hash.
const hashedKey = 255

type memEntry struct {
	rec     []byte
	version uint64
	expiry  int64 // unix nanoseconds
	reused  bool  // loaded, touched or replaced since it was created: out of probation
}

// A MemoryOption configures NewMemoryStore.
type MemoryOption func(*memoryOptions)

type memoryOptions struct {
	maxEntries int
	sweep      time.Duration
	now        func() time.Time
}

// WithMaxEntries bounds the number of records the store holds. The bound
// is kept per shard (n/64 each), so a store may evict slightly before it
// holds n. When a shard is full, an expired record goes first, else the
// one of a few sampled that expires soonest (as memcached evicts under
// memory pressure). Default: 1,000,000, about 420 MB for records of
// 240 bytes.
func WithMaxEntries(n int) MemoryOption {
	return func(o *memoryOptions) { o.maxEntries = n }
}

// WithSweepInterval sets how often the sweeper removes expired records.
// Expired records are never returned, swept or not. Default: one minute.
func WithSweepInterval(d time.Duration) MemoryOption {
	return func(o *memoryOptions) { o.sweep = d }
}

// withClock replaces time.Now, for tests.
func withClock(now func() time.Time) MemoryOption {
	return func(o *memoryOptions) { o.now = now }
}

// NewMemoryStore returns an in-memory store and starts its sweeper; Close
// stops it.
func NewMemoryStore(opts ...MemoryOption) *MemoryStore {
	o := memoryOptions{maxEntries: 1_000_000, sweep: time.Minute, now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	s := &MemoryStore{
		seed:     maphash.MakeSeed(),
		perShard: max(1, (o.maxEntries+memShards-1)/memShards),
		now:      o.now,
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	for i := range s.shards {
		s.shards[i].m = make(map[memKey]memEntry)
	}
	go s.sweeper(max(o.sweep, time.Millisecond))
	return s
}

func (s *MemoryStore) shard(key string) *memShard {
	return &s.shards[maphash.String(s.seed, key)%memShards]
}

// Load implements Store.
func (s *MemoryStore) Load(_ context.Context, key string) ([]byte, uint64, error) {
	sh, k := s.shard(key), keyOf(key)
	sh.mu.RLock()
	e, ok := sh.m[k]
	sh.mu.RUnlock()
	if !ok || e.expiry <= s.now().UnixNano() {
		return nil, 0, ErrNotFound
	}
	if !e.reused { // its first load: out of probation, once per record
		sh.mu.Lock()
		if cur, ok := sh.m[k]; ok && cur.version == e.version {
			cur.reused = true
			sh.m[k] = cur
		}
		sh.mu.Unlock()
	}
	return e.rec, e.version, nil
}

// Save implements Store.
func (s *MemoryStore) Save(_ context.Context, key string, rec []byte, version uint64, expiry time.Time) (uint64, error) {
	now := s.now().UnixNano()
	e := memEntry{rec: append([]byte(nil), rec...), version: s.version.Add(1), expiry: expiry.UnixNano()}
	sh, k := s.shard(key), keyOf(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	old, ok := sh.m[k]
	live := ok && old.expiry > now
	switch {
	case version == 0 && live:
		return 0, ErrConflict
	case version != 0 && !live:
		return 0, ErrNotFound
	case version != 0 && old.version != version:
		return 0, ErrConflict
	}
	if !ok && len(sh.m) >= s.perShard {
		s.makeRoom(sh, now)
	}
	e.reused = live // a replaced record was used before; a new one starts on probation
	sh.m[k] = e
	return e.version, nil
}

// makeRoom frees one slot in a full shard in constant time: of a few
// records sampled (Go's map iteration starts at a random place), an
// expired one, else one still on probation (never loaded, touched or
// replaced since it was written: a visitor who never came back), else
// the one that expires soonest, as Redis samples for eviction. So a flood
// of one-request sessions evicts its own kind, not the idle signed-in
// users who came back once. Scanning the whole shard for expired records
// on every insert made a full store O(n) per login; the sweeper removes
// the rest.
func (s *MemoryStore) makeRoom(sh *memShard, now int64) {
	const samples = 8
	var victim memKey
	found, probation, soonest, n := false, false, int64(0), 0
	for k, e := range sh.m {
		if e.expiry <= now {
			delete(sh.m, k)
			return
		}
		// Probation first, then the soonest to expire.
		if better := !e.reused && !probation || e.reused == !probation && e.expiry < soonest; !found || better {
			victim, soonest, found, probation = k, e.expiry, true, !e.reused
		}
		if n++; n == samples {
			break
		}
	}
	if found {
		delete(sh.m, victim)
		s.evicted.Add(1)
	}
}

// Touch implements Store.
func (s *MemoryStore) Touch(_ context.Context, key string, expiry time.Time) error {
	sh, k := s.shard(key), keyOf(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e, ok := sh.m[k]
	if !ok || e.expiry <= s.now().UnixNano() {
		return ErrNotFound
	}
	e.expiry, e.reused = expiry.UnixNano(), true
	sh.m[k] = e
	return nil
}

// Delete implements Store.
func (s *MemoryStore) Delete(_ context.Context, key string) error {
	sh, k := s.shard(key), keyOf(key)
	sh.mu.Lock()
	delete(sh.m, k)
	sh.mu.Unlock()
	return nil
}

// Len returns the number of records held, expired ones not yet swept included.
func (s *MemoryStore) Len() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		n += len(sh.m)
		sh.mu.RUnlock()
	}
	return n
}

// Evictions returns how many live records were dropped to respect the
// bound set by WithMaxEntries.
func (s *MemoryStore) Evictions() uint64 { return s.evicted.Load() }

// LongestSweepPause returns the longest time the sweeper held one shard's
// lock: the longest a request may have waited for it.
func (s *MemoryStore) LongestSweepPause() time.Duration { return time.Duration(s.pause.Load()) }

// Close stops the sweeper. The store stays usable. Close is idempotent.
func (s *MemoryStore) Close() error {
	s.closeOnce.Do(func() {
		close(s.stop)
		<-s.done
	})
	return nil
}

func (s *MemoryStore) sweeper(every time.Duration) {
	defer close(s.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.sweep()
		}
	}
}

// sweep removes expired records, one shard at a time so that requests
// wait at most for one shard.
func (s *MemoryStore) sweep() {
	report := s.reports.Any()
	var expired []carry.Removed
	for i := range s.shards {
		sh := &s.shards[i]
		now := s.now().UnixNano()
		start := time.Now()
		sh.mu.Lock()
		for k, e := range sh.m {
			if e.expiry <= now {
				delete(sh.m, k)
				if report && k.n != hashedKey {
					expired = append(expired, carry.Removed{Key: string(k.b[:k.n]), Rec: e.rec})
				}
			}
		}
		sh.mu.Unlock()
		if held := int64(time.Since(start)); held > s.pause.Load() {
			s.pause.Store(held)
		}
		s.reports.ReportAll(context.Background(), expired) // outside the shard's lock
		expired = expired[:0]
	}
}
