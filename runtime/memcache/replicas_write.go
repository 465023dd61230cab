package memcache

import (
	"context"
	"errors"
	"fmt"
	"time"

	gomemcache "github.com/bradfitz/gomemcache/memcache"
	"github.com/sessiongen/sessiongen/runtime"
)

// save writes the record on the key's first replica that is up, its
// primary, with a compare-and-swap: concurrent saves are decided there.
// The other replicas get the saved copy in the background, each only if
// what it holds is older, so a copy never goes back in time even when
// two arrive out of order. A primary that cannot be reached before the
// command was sent, or that gave no answer, hands over to the next.
func (r *replicas) save(ctx context.Context, key string, rec []byte, version uint64, expiry time.Time) error {
	var ix [maxReplicas]int
	ranks, k := r.place(key, &ix)
	r.noteTTL(expiry)
	newVersion := nextVersion(version)
	value := seal(newVersion, expiry, kindRecord, rec)
	exp := expiration(expiry, r.now())
	h, hinted := r.hints.take(k, version)
	var err error
	tried := false
	for p, ix := range ranks {
		nd := r.nodes[ix]
		if !nd.up() {
			continue
		}
		tried = true
		it := &gomemcache.Item{Key: k, Value: value, Flags: flagEnvelope, Expiration: exp}
		switch {
		case version == 0:
			err = r.add(ctx, nd, it)
		case hinted && h.cas[p] != 0:
			it.CasID = h.cas[p]
			err = r.cas(ctx, nd, it, version, true)
		default:
			err = r.cas(ctx, nd, it, version, false)
		}
		if errors.Is(err, errMissing) { // the primary lost its copy (a restart): the others have it
			err = r.add(ctx, nd, it)
		}
		if unanswered(err) && ctx.Err() == nil {
			continue // now marked down: the next replica decides
		}
		if err == nil {
			r.copyToOthers(ranks, p, k, value, exp, newVersion, h, hinted)
		}
		break
	}
	switch {
	case !tried:
		return fmt.Errorf("sessiongen/memcache: save: every replica is down: %w", runtime.ErrUnavailable)
	case err == nil:
		return nil
	case errors.Is(err, errTombstone):
		return fmt.Errorf("sessiongen/memcache: save: the session ended: %w", runtime.ErrNotFound)
	case errors.Is(err, runtime.ErrConflict):
		return fmt.Errorf("sessiongen/memcache: save: %w", runtime.ErrConflict)
	}
	return mapErr("save", err, true)
}

// copyToOthers writes a saved copy to the replicas after the primary, in
// the background (at most cap(r.copies) at once; beyond, the save waits).
func (r *replicas) copyToOthers(ranks []int, primary int, k string, value []byte, exp int32, version uint64, h hint, hinted bool) {
	for i, ix := range ranks {
		if i == primary {
			continue
		}
		nd := r.nodes[ix]
		if !nd.up() {
			continue
		}
		var cas uint64
		if hinted {
			cas = h.cas[i]
		}
		write := func() {
			ctx, cancel := context.WithTimeout(context.Background(), 4*nd.c.Timeout)
			defer cancel()
			r.copyTo(ctx, nd, &gomemcache.Item{Key: k, Value: value, Flags: flagEnvelope, Expiration: exp, CasID: cas}, version)
		}
		select {
		case r.copies <- struct{}{}:
			go func() {
				defer func() { <-r.copies }()
				write()
			}()
		default:
			write()
		}
	}
}

// copyTo writes a copy on one replica unless it holds the same version or
// a newer one, or a tombstone.
func (r *replicas) copyTo(ctx context.Context, nd *node, it *gomemcache.Item, version uint64) {
	if it.CasID != 0 && r.do(ctx, nd, func(c *gomemcache.Client) error { return c.CompareAndSwap(it) }) == nil {
		return
	}
	for range 3 {
		var got *gomemcache.Item
		err := r.do(ctx, nd, func(c *gomemcache.Client) (err error) { got, err = c.Get(it.Key); return err })
		if errors.Is(err, gomemcache.ErrCacheMiss) {
			err = r.do(ctx, nd, func(c *gomemcache.Client) error { return c.Add(it) })
		} else if err == nil {
			if c, ok := open(got.Flags, got.Value, got.CasID); ok && (c.tombstone || c.version >= version) {
				return
			}
			it.CasID = got.CasID
			err = r.do(ctx, nd, func(c *gomemcache.Client) error { return c.CompareAndSwap(it) })
		}
		if !lostRace(err) {
			return // written, or the server is not answering
		}
	}
}

// add creates the record on one replica; an existing one is a conflict.
func (r *replicas) add(ctx context.Context, nd *node, it *gomemcache.Item) error {
	err := r.do(ctx, nd, func(c *gomemcache.Client) error { return c.Add(it) })
	if errors.Is(err, gomemcache.ErrNotStored) {
		return runtime.ErrConflict
	}
	return err
}

// cas replaces one replica's copy if it is no newer than version. With
// the CAS value a Load saw (hinted), that is one round trip; otherwise,
// or when the copy changed since, it reads the copy's version first.
func (r *replicas) cas(ctx context.Context, nd *node, it *gomemcache.Item, version uint64, hinted bool) error {
	if hinted {
		err := r.do(ctx, nd, func(c *gomemcache.Client) error { return c.CompareAndSwap(it) })
		if !lostRace(err) {
			return err
		}
	}
	var got *gomemcache.Item
	err := r.do(ctx, nd, func(c *gomemcache.Client) (err error) { got, err = c.Get(it.Key); return err })
	switch {
	case errors.Is(err, gomemcache.ErrCacheMiss):
		return errMissing
	case err != nil:
		return err
	}
	if c, ok := open(got.Flags, got.Value, got.CasID); ok && c.tombstone {
		return errTombstone
	} else if ok && c.version > version {
		return runtime.ErrConflict
	}
	it.CasID = got.CasID
	err = r.do(ctx, nd, func(c *gomemcache.Client) error { return c.CompareAndSwap(it) })
	if lostRace(err) {
		return runtime.ErrConflict
	}
	return err
}

// touch moves the expiry on every replica that is up.
func (r *replicas) touch(ctx context.Context, key string, expiry time.Time) error {
	var ix [maxReplicas]int
	ranks, k := r.place(key, &ix)
	r.noteTTL(expiry)
	exp := expiration(expiry, r.now())
	var outcome [maxReplicas]error
	ran := r.each(ranks, func(i int, nd *node) {
		outcome[i] = r.do(ctx, nd, func(c *gomemcache.Client) error { return c.Touch(k, exp) })
	})
	return r.settle("touch", ran, outcome[:r.n], false)
}

// delete leaves a tombstone on every replica that is up.
func (r *replicas) delete(ctx context.Context, key string) error {
	var ix [maxReplicas]int
	ranks, k := r.place(key, &ix)
	value, exp := r.tombstone()
	var outcome [maxReplicas]error
	ran := r.each(ranks, func(i int, nd *node) {
		it := &gomemcache.Item{Key: k, Value: value, Flags: flagEnvelope, Expiration: exp}
		outcome[i] = r.do(ctx, nd, func(c *gomemcache.Client) error { return c.Set(it) })
	})
	return r.settle("delete", ran, outcome[:r.n], true)
}

// settle is the outcome of a touch or delete: done if any replica did
// it, not found if every one that answered has no copy.
func (r *replicas) settle(op string, ran asked, outcome []error, write bool) error {
	if ran == 0 {
		return fmt.Errorf("sessiongen/memcache: %s: every replica is down: %w", op, runtime.ErrUnavailable)
	}
	var failed error
	miss := false
	for i, err := range outcome {
		switch {
		case !ran.has(i):
		case err == nil:
			return nil
		case errors.Is(err, gomemcache.ErrCacheMiss):
			miss = true
		default:
			failed = firstOf(failed, err)
		}
	}
	if miss && failed == nil {
		return mapErr(op, gomemcache.ErrCacheMiss, write)
	}
	return mapErr(op, failed, write)
}
