package runtime

import "time"

// SetClock makes managers created from now on use clock; the result
// restores time.Now.
func SetClock(clock func() time.Time) (restore func()) {
	clockForNewManagers = clock
	return func() { clockForNewManagers = time.Now }
}

// WithClock replaces the memory store's clock, for tests of expiry.
var WithClock = withClock

// StoreKey exposes the key derivation, so tests can look records up.
var StoreKey = storeKey

// SetMerge makes managers created from now on merge (or not) on a lost
// compare-and-swap race; the result restores merging.
func SetMerge(on bool) (restore func()) {
	mergeForNewManagers = on
	return func() { mergeForNewManagers = true }
}

// ValidCookieValue reports whether value is a cookie value signed with
// secret for the cookie name.
func ValidCookieValue(name string, secret []byte, value string) bool {
	_, ok := newSigner(name, [][]byte{secret}).verify(value)
	return ok
}

// SameTurn reports whether the sessions with IDs a and b share a shard of
// the table of save turns (the turn itself is per session).
func SameTurn(a, b string) bool {
	var t saveTurns
	n := uint64(len(t.shards))
	return keyHash(storeKey(a))%n == keyHash(storeKey(b))%n
}

// SignedCookieValue is the cookie value for id, signed with secret for
// the cookie name.
func SignedCookieValue(name string, secret []byte, id string) string {
	return newSigner(name, [][]byte{secret}).sign(id)
}

// Sweep runs the memory store's sweeper once.
func Sweep(s *MemoryStore) { s.sweep() }

// QueuedForTurn reports how many requests wait for the save turn of the
// session with ID id in m.
func QueuedForTurn(m *Manager, id string) int {
	key := storeKey(id)
	sh := &m.turns.shards[keyHash(key)%uint64(len(m.turns.shards))]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if tn := sh.turns[key]; tn != nil {
		return int(tn.queued.Load())
	}
	return 0
}
