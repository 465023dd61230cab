// Shop is a small web shop that keeps its visitors' sessions with
// sessiongen: log in, fill a cart, read a flash message, log out.
//
//	go run ./examples/shop -addr localhost:8080
//
// Sessions live in memory and end when the process does. The cookie is
// not marked Secure unless -secure is given, so that the demo works over
// plain http://localhost; in production, serve HTTPS and keep the default.
package main

import (
	"crypto/rand"
	"flag"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/sessiongen/sessiongen/runtime"
)

func main() {
	addr := flag.String("addr", "localhost:8080", "address to listen on")
	secure := flag.Bool("secure", false, "mark the session cookie Secure (needs HTTPS)")
	flag.Parse()

	secret := []byte(os.Getenv("SESSION_SECRET"))
	if len(secret) == 0 {
		secret = make([]byte, 32)
		rand.Read(secret)
		slog.Info("SESSION_SECRET is not set: using a random secret; sessions end with the process")
	}
	cfg := runtime.Config{Secrets: [][]byte{secret}}
	if !*secure {
		cfg.Cookie.Secure = runtime.Off
	}
	app, sessions, err := newApp(cfg)
	if err != nil {
		slog.Error("bad session configuration", "err", err)
		os.Exit(1)
	}
	defer sessions.Close()
	srv := &http.Server{Addr: *addr, Handler: app, ReadHeaderTimeout: 5 * time.Second}
	slog.Info("shop listening", "url", "http://"+*addr)
	if err := srv.ListenAndServe(); err != nil {
		slog.Error("server stopped", "err", err)
		os.Exit(1)
	}
}
