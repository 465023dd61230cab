// Package clientside is the contract between package runtime and
// runtime/cookiestore, a store that keeps each session in its cookie: the
// runtime seals through it, so that a program that does not use the
// cookie store does not link its cryptography.
package clientside

import "time"

// Store is implemented by runtime/cookiestore's Store.
type Store interface {
	// ClientSide says how the cookies are cut and how long a session may
	// stay idle by default, and returns the sealer for the cookie name
	// and the manager's secrets.
	ClientSide(cookieName string, secrets [][]byte) (Sealer, Options, error)
}

// Sealer seals a session's payload into a cookie value and opens it.
type Sealer interface {
	Seal(payload []byte) string
	// Open returns an error for anything Seal did not make with one of
	// the secrets for this cookie name.
	Open(value string) ([]byte, error)
	// SealedLen is the length of the value sealing n bytes makes.
	SealedLen(n int) int
}

// Options shape the cookies of a client-side store.
type Options struct {
	MaxChunks   int           // cookies a session may take
	ChunkSize   int           // bytes of value each cookie holds
	IdleTimeout time.Duration // the default, when Config.IdleTimeout is zero
}
