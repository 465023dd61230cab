// Shop is a small web shop that keeps its visitors' sessions with
// sessiongen: log in, fill a cart, read a flash message, log out.
//
//	go run ./examples/shop -addr localhost:8080
//	go run ./examples/shop -memcached 127.0.0.1:11211,127.0.0.1:11212
//
// Sessions live in memory and end when the process does, unless -memcached
// names memcached servers to keep them in (shared by every process of the
// shop, and spread over the servers by consistent hashing). The cookie is
// not marked Secure unless -secure is given, so that the demo works over
// plain http://localhost; in production, serve HTTPS and keep the default.
package main

import (
	"crypto/rand"
	"flag"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/memcache"
)

func main() {
	addr := flag.String("addr", "localhost:8080", "address to listen on")
	secure := flag.Bool("secure", false, "mark the session cookie Secure (needs HTTPS)")
	servers := flag.String("memcached", "", "comma-separated memcached `host:port` list (default: in-memory sessions)")
	flag.Parse()

	secret := []byte(os.Getenv("SESSION_SECRET"))
	if len(secret) == 0 {
		secret = make([]byte, 32)
		rand.Read(secret)
		slog.Info("SESSION_SECRET is not set: using a random secret; sessions end with the process")
	}
	cfg := runtime.Config{Secrets: [][]byte{secret}}
	if *servers != "" {
		store, err := memcache.New(strings.Split(*servers, ",")...)
		if err != nil {
			slog.Error("bad -memcached", "err", err)
			os.Exit(2)
		}
		cfg.Store = store
	}
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
