package memcache

import (
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	gomemcache "github.com/bradfitz/gomemcache/memcache"
)

// stale reports whether err is what a pooled connection to a server that
// has since restarted answers: the server closed it (io.EOF), reset it,
// or the pipe is broken. Nothing reached the running server.
func stale(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// notSent reports whether err happened before a command could be sent:
// no server, or the dial failed.
func notSent(err error) bool {
	var cte *gomemcache.ConnectTimeoutError
	var op *net.OpError
	return errors.Is(err, gomemcache.ErrNoServers) || errors.As(err, &cte) || errors.As(err, &op) && op.Op == "dial"
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
