package memcache

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	gomemcache "github.com/bradfitz/gomemcache/memcache"
	"github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/internal/neterr"
)

// maxReplicas is the most copies WithReplicas keeps.
const maxReplicas = 5

// minTombstoneTTL is how long, at least, a tombstone outlives the record
// it ends; longer when this store has written longer-lived records.
const minTombstoneTTL = 24 * time.Hour

// replicas keeps each record on the n servers that rank highest for its
// key, reading and writing them in parallel:
//
//   - Load asks every replica and returns the copy of highest version; a
//     tombstone on any replica means the session ended. Replicas found
//     empty get the winning copy in the background.
//   - Save is a compare-and-swap on the key's first replica that is up
//     (its primary), which decides between concurrent saves; the other
//     replicas get the copy in the background, only over an older one.
//     A save whose primary dies before its copy lands is lost if the
//     next save of that session, on the next replica, comes first.
//     Saves that went to two primaries (while processes disagree, for up
//     to a probe interval, on whether a server is back) both succeed,
//     and readers keep the higher version: the other one is lost.
//   - Delete leaves a tombstone, so that a replica that was away (paused,
//     partitioned) cannot bring the session back when it returns.
//   - A server that does not answer is left out until a background probe
//     finds it back (node.up); requests go on with the other replicas.
type replicas struct {
	nodes   []*node // in the selector's order
	sel     *Selector
	n       int
	prefix  string
	hints   *hints
	maxTTL  atomic.Int64  // the longest TTL written, in seconds
	repairs chan struct{} // bounds the background repairs after a read
	copies  chan struct{} // bounds the background copies after a save
	now     func() time.Time
}

// errTombstone and errMissing are what one replica says of a write.
var (
	errTombstone = errors.New("ended: a tombstone")
	errMissing   = errors.New("no copy")
)

func newReplicas(sel *Selector, n int, o options) *replicas {
	r := &replicas{sel: sel, n: n, prefix: o.prefix, hints: newHints(), repairs: make(chan struct{}, 64), copies: make(chan struct{}, 256), now: time.Now}
	for _, a := range sel.addrs {
		r.nodes = append(r.nodes, newNode(a.String(), o.timeout, o.maxIdleConns))
	}
	return r
}

// place returns the ranks of key's replicas (in ix: no allocation) and
// its memcached key.
func (r *replicas) place(key string, ix *[maxReplicas]int) ([]int, string) {
	ranks, k := ix[:r.n], r.prefix+key
	r.sel.rank(k, ranks)
	return ranks, k
}

// lostRace reports whether a write on one replica was refused because
// the copy changed or went away since it was read.
func lostRace(err error) bool {
	return errors.Is(err, gomemcache.ErrCASConflict) || errors.Is(err, gomemcache.ErrCacheMiss) || errors.Is(err, gomemcache.ErrNotStored)
}

// asked says which replicas, by rank, an operation ran on.
type asked uint8

func (a asked) has(i int) bool { return a&(1<<i) != 0 }

// each runs f on every replica of key that is up, in parallel, and
// reports which it ran on.
func (r *replicas) each(ranks []int, f func(i int, nd *node)) (a asked) {
	var wg sync.WaitGroup
	first := -1
	for i, ix := range ranks {
		nd := r.nodes[ix]
		if !nd.up() {
			continue
		}
		if a |= 1 << i; first < 0 {
			first = i
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(i, nd)
		}()
	}
	if first >= 0 {
		f(first, r.nodes[ranks[first]])
	}
	wg.Wait()
	return a
}

// do runs op on a node's client, again once on a fresh connection when
// the pooled one was stale (see Store.do), and leaves the node out when
// it did not answer.
func (r *replicas) do(ctx context.Context, nd *node, op func(c *gomemcache.Client) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	err := neterr.Retry(ctx, func() error { return op(nd.c) }, func() { nd.c.Close() })
	if unanswered(err) {
		nd.fail()
	}
	return err
}

// unanswered reports whether err says the server did not answer, rather
// than answering no.
func unanswered(err error) bool {
	switch {
	case err == nil, errors.Is(err, runtime.ErrConflict), errors.Is(err, errTombstone), errors.Is(err, errMissing),
		errors.Is(err, gomemcache.ErrCacheMiss), errors.Is(err, gomemcache.ErrCASConflict),
		errors.Is(err, gomemcache.ErrNotStored), errors.Is(err, gomemcache.ErrMalformedKey), isTooLarge(err),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return false
	}
	return true
}

type read struct {
	c     copyOf
	found bool
	err   error
}

func (r *replicas) load(ctx context.Context, key string) ([]byte, uint64, error) {
	var ix [maxReplicas]int
	ranks, k := r.place(key, &ix)
	var res [maxReplicas]read
	ran := r.each(ranks, func(i int, nd *node) {
		var it *gomemcache.Item
		err := r.do(ctx, nd, func(c *gomemcache.Client) (err error) { it, err = c.Get(k); return err })
		if err == nil {
			res[i].c, res[i].found = open(it.Flags, it.Value, it.CasID)
		} else if !errors.Is(err, gomemcache.ErrCacheMiss) {
			res[i].err = err
		}
	})
	best, tomb, answered := -1, false, 0
	var firstErr error
	for i := range ranks {
		switch {
		case !ran.has(i):
			continue
		case res[i].err != nil:
			firstErr = firstOf(firstErr, res[i].err)
			continue
		case res[i].found && res[i].c.tombstone:
			tomb = true
		case res[i].found && (best < 0 || res[i].c.version > res[best].c.version):
			best = i
		}
		answered++
	}
	if ran == 0 {
		return nil, 0, fmt.Errorf("sessiongen/memcache: load: every replica is down: %w", runtime.ErrUnavailable)
	}
	if answered == 0 {
		return nil, 0, mapErr("load", firstErr, false)
	}
	if tomb {
		r.repair(ranks, ran, res[:r.n], k, -1)
		return nil, 0, fmt.Errorf("sessiongen/memcache: load: %w", runtime.ErrNotFound)
	}
	if best < 0 {
		return nil, 0, fmt.Errorf("sessiongen/memcache: load: %w", runtime.ErrNotFound)
	}
	h := hint{version: res[best].c.version}
	for i := range ranks {
		if ran.has(i) && res[i].found && res[i].c.version == h.version {
			h.cas[i] = res[i].c.cas
		}
	}
	r.hints.put(k, h)
	r.repair(ranks, ran, res[:r.n], k, best)
	return res[best].c.rec, h.version, nil
}

// firstOf keeps the first error met.
func firstOf(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// repair copies the winning copy (or a tombstone, for best < 0) to the
// replicas that answered with none (a server restarted empty), in the
// background and bounded: a repair that cannot start now is left to the
// next read or write.
func (r *replicas) repair(ranks []int, ran asked, res []read, k string, best int) {
	var value []byte
	var exp int32
	if best < 0 {
		value, exp = r.tombstone()
	} else if w := res[best].c; w.expiry != 0 {
		value, exp = seal(w.version, time.Unix(w.expiry, 0), kindRecord, w.rec), expiration(time.Unix(w.expiry, 0), r.now())
	} else {
		return // a record written without replicas: the next save rewrites it
	}
	for i, ix := range ranks {
		got := res[i]
		// An older copy is left alone: reads pass it over, and the copy of
		// the save that made the newer one may still be on its way.
		stale := ran.has(i) && got.err == nil && (!got.found || (best < 0 && !got.c.tombstone))
		if !stale || !r.nodes[ix].up() {
			continue
		}
		select {
		case r.repairs <- struct{}{}:
		default:
			return
		}
		nd, it := r.nodes[ix], &gomemcache.Item{Key: k, Value: value, Flags: flagEnvelope, Expiration: exp, CasID: got.c.cas}
		go func() {
			defer func() { <-r.repairs }()
			ctx, cancel := context.WithTimeout(context.Background(), 4*nd.c.Timeout)
			defer cancel()
			r.do(ctx, nd, func(c *gomemcache.Client) error {
				if got.found {
					return c.CompareAndSwap(it) // refused if it changed since: then it is newer
				}
				return c.Add(it)
			})
		}()
	}
}

// tombstone is the value and expiration that end a session on every
// replica: it outlives any copy a returning server may still hold.
func (r *replicas) tombstone() ([]byte, int32) {
	ttl := max(time.Duration(r.maxTTL.Load())*time.Second, minTombstoneTTL)
	exp := r.now().Add(ttl)
	return seal(0, exp, kindTombstone, nil), expiration(exp, r.now())
}

// noteTTL records the longest TTL written, for tombstones.
func (r *replicas) noteTTL(expiry time.Time) {
	ttl := int64(expiry.Sub(r.now())/time.Second) + 1
	for {
		cur := r.maxTTL.Load()
		if ttl <= cur || r.maxTTL.CompareAndSwap(cur, ttl) {
			return
		}
	}
}
