package memcache

import (
	"errors"
	"strings"

	gomemcache "github.com/bradfitz/gomemcache/memcache"
	"github.com/sessiongen/sessiongen/runtime/internal/neterr"
)

// notSent reports whether err happened before a command could be sent:
// no server, or the dial failed.
func notSent(err error) bool {
	var cte *gomemcache.ConnectTimeoutError
	return errors.Is(err, gomemcache.ErrNoServers) || errors.As(err, &cte) || neterr.Dial(err)
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
