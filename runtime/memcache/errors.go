package memcache

import (
	"errors"
	"strings"

	gomemcache "github.com/bradfitz/gomemcache/memcache"
)

// transient reports whether err is a failure to reach memcached rather
// than an answer from it: a refused or timed-out connection, a stale
// pooled connection (io.EOF after a restart), no server.
func transient(err error) bool {
	if err == nil {
		return false
	}
	for _, answer := range []error{gomemcache.ErrCacheMiss, gomemcache.ErrCASConflict, gomemcache.ErrNotStored, gomemcache.ErrMalformedKey} {
		if errors.Is(err, answer) {
			return false
		}
	}
	return !isTooLarge(err)
}

// isTooLarge recognises memcached's "SERVER_ERROR object too large for
// cache", which gomemcache returns as an untyped error.
func isTooLarge(err error) bool {
	return err != nil && strings.Contains(err.Error(), "object too large")
}

// legalKey is gomemcache's key rule: no spaces or control characters.
func legalKey(key string) bool {
	for i := 0; i < len(key); i++ {
		if key[i] <= ' ' || key[i] == 0x7f {
			return false
		}
	}
	return true
}
