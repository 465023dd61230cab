package runtime_test

import (
	"testing"

	"github.com/sessiongen/sessiongen/internal/concurrencytest"
	"github.com/sessiongen/sessiongen/runtime"
)

// TestConcurrentRequests runs the lost-update scenarios on the memory store.
func TestConcurrentRequests(t *testing.T) { // F1, F2, F3
	concurrencytest.Run(t, func(t *testing.T) runtime.Store {
		s := runtime.NewMemoryStore()
		t.Cleanup(func() { s.Close() })
		return s
	})
}
