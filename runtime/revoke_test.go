package runtime_test

import (
	"testing"

	"github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/storetest"
)

// TestRevocationOnMemory runs the sealed-cookie revocation scenarios with
// one memory store keeping the revocations for two managers.
func TestRevocationOnMemory(t *testing.T) {
	store := runtime.NewMemoryStore()
	t.Cleanup(func() { store.Close() })
	storetest.RunRevocation(t, func(*testing.T) runtime.Store { return store })
}
