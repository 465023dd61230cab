// Sessiongen-inspect prints a stored session as JSON, for debugging in
// production: what the store holds for a cookie or a session ID.
//
// Usage:
//
//	go run github.com/sessiongen/sessiongen/cmd/sessiongen-inspect@latest -store URL [-dir ./pkg [-type Visit]] [-secrets-env NAME] < cookie-or-id
//
// The store URL takes the demo's -store forms (memcached://host:port,
// redis://host:port/0, postgres://user@host/db, mongodb://host/db,
// sqlite:path); nothing is created in it (PostgreSQL's table included).
// Standard input's first line is the value of the session cookie
// ("<id>.<signature>"; its signature is not checked) or a bare session
// ID: there, unlike on the command line, ps does not show it to other
// users. It may also be the last argument, after -- (base64url values may
// begin with -, which would read as a flag). The output holds the record's header (created, issued, version,
// store key) and every stored field by key, including keys the current
// code does not know; with -dir, each field also gets its Go name and
// stored type from the schema recorded in the package's generated file.
// It never prints the ID or a cookie. A record sealed at rest
// (Config.EncryptAtRest) opens with the secrets in the environment
// variable -secrets-env names (comma-separated; never on the command
// line, where ps shows them); without them, the inspector says it is
// sealed.
//
// It is a command of its own, not a sessiongen flag, so that generating
// code (go tool sessiongen) never brings the clients of every store into
// a module.
package main

import (
	"context"
	"os"
	"os/signal"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
