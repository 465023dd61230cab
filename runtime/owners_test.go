package runtime_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/sessiongen/sessiongen/internal/testsession"
	"github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/storetest"
)

// TestOwnersOnMemory runs the per-owner logout scenarios on one memory
// store shared by two managers.
func TestOwnersOnMemory(t *testing.T) {
	store := runtime.NewMemoryStore()
	t.Cleanup(func() { store.Close() })
	storetest.RunOwners(t, func(*testing.T) runtime.Store { return store })
}

// TestOwnerlessTypesSaySo: a type without an owner field cannot list or
// end an owner's sessions, and says why.
func TestOwnerlessTypesSaySo(t *testing.T) {
	m, err := testsession.NewVisitManager(runtime.Config{Secrets: [][]byte{bytes.Repeat([]byte("x"), 32)}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := m.Sessions(context.Background(), "7"); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("Sessions on a type without an owner: %v", err)
	}
	if err := m.LogoutAll(context.Background(), "7"); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("LogoutAll on a type without an owner: %v", err)
	}
}
