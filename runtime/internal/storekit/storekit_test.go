package storekit

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

func TestPrunerRunsAndStopsTwice(t *testing.T) {
	var calls atomic.Int64
	p := StartPruner(10*time.Millisecond, time.Second, func(context.Context, time.Time) (int64, error) {
		if calls.Add(1) == 1 {
			return PruneBatch, nil // a full batch: another call follows at once
		}
		return 0, nil
	}, func(err error) { t.Error(err) })
	time.Sleep(100 * time.Millisecond)
	p.Stop()
	p.Stop() // a store closed twice stops its pruner twice
	if n := calls.Load(); n < 2 {
		t.Fatalf("prune ran %d times in 100 ms at a 10 ms interval", n)
	}
	var nilPruner *Pruner
	nilPruner.Stop()
}

func TestNewVersion(t *testing.T) {
	seen := map[int64]bool{}
	for range 1000 {
		v := NewVersion(0)
		if v <= 0 || seen[v] {
			t.Fatalf("version %d: must be positive and new", v)
		}
		seen[v] = true
	}
	if NewVersion(5) == 5 {
		t.Fatal("NewVersion returned the old version")
	}
}
