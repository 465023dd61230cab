// Shop is a small web shop that keeps its visitors' sessions with
// sessiongen: log in, fill a cart, read a flash message, log out.
//
//	go run ./examples/shop -addr localhost:8080
//	go run ./examples/shop -store redis://127.0.0.1:6379
//	go run ./examples/shop -store postgres://user:pass@127.0.0.1/shop
//	go run ./examples/shop -store mongodb://127.0.0.1:27017/shop
//	go run ./examples/shop -store sqlite:./sessions.db
//	go run ./examples/shop -store memcached://127.0.0.1:11211,127.0.0.1:11212
//
// Sessions live in memory and end when the process does, unless -store
// names a store to keep them in: Redis, PostgreSQL, MongoDB and SQLite keep them
// across restarts; memcached shares them between processes but loses them
// when it restarts. The cookie is not marked Secure unless -secure is
// given, so that the demo works over plain http://localhost; in
// production, serve HTTPS and keep the default.
package main

import (
	"context"
	"crypto/rand"
	"flag"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/sessiongen/sessiongen/internal/storeurl"
	"github.com/sessiongen/sessiongen/runtime"
)

func main() {
	addr := flag.String("addr", "localhost:8080", "address to listen on")
	secure := flag.Bool("secure", false, "mark the session cookie Secure (needs HTTPS)")
	storeURL := flag.String("store", "memory:", "where sessions live: "+storeurl.Forms)
	servers := flag.String("memcached", "", "comma-separated memcached `host:port` list (the same as -store memcached://…)")
	flag.Parse()
	if *servers != "" {
		*storeURL = "memcached://" + *servers
	}

	secret := []byte(os.Getenv("SESSION_SECRET"))
	if len(secret) == 0 {
		secret = make([]byte, 32)
		rand.Read(secret)
		slog.Info("SESSION_SECRET is not set: using a random secret, so sessions end with the process whatever the store; set it (32 bytes or more) to keep them across restarts")
	}
	store, storeName, closeStore, err := storeurl.Open(context.Background(), *storeURL)
	if err != nil {
		slog.Error("bad -store", "err", err)
		os.Exit(2)
	}
	defer closeStore()
	cfg := runtime.Config{Secrets: [][]byte{secret}, Store: store}
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
	slog.Info("shop listening", "url", "http://"+*addr, "store", storeName)
	if err := srv.ListenAndServe(); err != nil {
		slog.Error("server stopped", "err", err)
		os.Exit(1)
	}
}
