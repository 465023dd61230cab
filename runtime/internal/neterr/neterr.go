// Package neterr sorts the network errors of store clients by what they
// say about a command: never sent, or sent on a connection the server had
// already closed.
package neterr

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"
)

// Stale reports whether err is what a pooled connection to a server that
// has since restarted answers: the server closed it (io.EOF), reset it,
// or the pipe is broken. Nothing reached a running server, so the command
// can be sent again on a fresh connection, a write included.
func Stale(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// Dial reports whether err is a failed dial: the command was never sent.
func Dial(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// Retry runs op, and once more when it failed on a stale connection and
// ctx is still live; reset, if not nil, runs in between (to empty a pool
// that holds more such connections).
func Retry(ctx context.Context, op func() error, reset func()) error {
	err := op()
	if Stale(err) && ctx.Err() == nil {
		if reset != nil {
			reset()
		}
		err = op()
	}
	return err
}
