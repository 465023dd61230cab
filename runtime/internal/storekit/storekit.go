// Package storekit holds what the persistent stores share beyond SQL:
// record versions, the rule that sorts a failed operation into the
// runtime's errors, and the pruner that deletes expired sessions where
// the server does not.
package storekit

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	"github.com/sessiongen/sessiongen/runtime"
)

// Failure wraps err, an operation's failure, in the runtime's error for
// it: a write that may have reached the server and went unanswered has an
// unknown outcome (runtime.ErrOutcomeUnknown); anything else, and a write
// the store knows did not apply (the server answered with an error, or
// nothing was sent), leaves the store unavailable (runtime.ErrUnavailable).
func Failure(err error, write, notApplied bool) error {
	if write && !notApplied {
		return fmt.Errorf("%w: %w", runtime.ErrOutcomeUnknown, err)
	}
	return fmt.Errorf("%w: %w", runtime.ErrUnavailable, err)
}

// NewVersion returns a random version in [1, 2^63) other than old: a
// version changes on every write, and a random one cannot come back to a
// value a stale writer still holds (no ABA), even after a delete.
func NewVersion(old uint64) int64 {
	var b [8]byte
	for {
		rand.Read(b[:])
		if v := binary.BigEndian.Uint64(b[:]) >> 1; v != 0 && v != old {
			return int64(v)
		}
	}
}

// PruneBatch is how many expired sessions one prune deletes at most.
const PruneBatch = 1000

// Pruner deletes expired sessions on a randomised interval.
type Pruner struct {
	stop     chan struct{}
	stopOnce sync.Once
	done     sync.WaitGroup
}

// StartPruner runs prune every interval, give or take half of it (so that
// the instances of a fleet spread out), until Stop. prune deletes at most
// PruneBatch sessions expired at now and returns how many; a full batch is
// followed at once by another. Each call gets timeout (at least 10 s).
func StartPruner(interval, timeout time.Duration, prune func(ctx context.Context, now time.Time) (int64, error), onErr func(error)) *Pruner {
	p := &Pruner{stop: make(chan struct{})}
	p.done.Add(1)
	go func() {
		defer p.done.Done()
		for {
			t := time.NewTimer(interval/2 + jitter(interval))
			select {
			case <-p.stop:
				t.Stop()
				return
			case <-t.C:
			}
			for {
				ctx, cancel := context.WithTimeout(context.Background(), max(timeout, 10*time.Second))
				n, err := prune(ctx, time.Now())
				cancel()
				if err != nil {
					onErr(err)
				}
				if err != nil || n < PruneBatch {
					break
				}
			}
		}
	}()
	return p
}

// Stop stops the pruner and waits for it. It is idempotent, and a nil
// Pruner is a no-op.
func (p *Pruner) Stop() {
	if p != nil {
		p.stopOnce.Do(func() { close(p.stop) })
		p.done.Wait()
	}
}

// jitter returns a random duration in [0, d).
func jitter(d time.Duration) time.Duration {
	var b [8]byte
	rand.Read(b[:])
	return time.Duration(binary.BigEndian.Uint64(b[:]) % uint64(max(d, 1)))
}
