package runtime_test

import (
	"testing"

	"github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/storetest"
)

func TestMemoryStoreContract(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) runtime.Store {
		s := runtime.NewMemoryStore()
		t.Cleanup(func() { s.Close() })
		return s
	})
}
