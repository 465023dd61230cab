package runtime_test

import (
	"testing"

	"github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/storetest"
)

// TestEncryptAtRestOnMemory runs the encryption-at-rest scenarios on the
// memory store.
func TestEncryptAtRestOnMemory(t *testing.T) {
	storetest.RunEncryptAtRest(t, func(t *testing.T) runtime.Store {
		s := runtime.NewMemoryStore()
		t.Cleanup(func() { s.Close() })
		return s
	})
}
