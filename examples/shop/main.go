// Shop is a small web shop that keeps its visitors' sessions with
// sessiongen: log in, fill a cart, read a flash message, log out.
//
//	go run ./examples/shop -addr localhost:8080
//	go run ./examples/shop -store redis://127.0.0.1:6379
//	go run ./examples/shop -store postgres://user:pass@127.0.0.1/shop
//	go run ./examples/shop -store mysql://user:pass@127.0.0.1/shop
//	go run ./examples/shop -store mongodb://127.0.0.1:27017/shop
//	go run ./examples/shop -store sqlite:./sessions.db
//	go run ./examples/shop -store memcached://127.0.0.1:11211,127.0.0.1:11212
//	go run ./examples/shop -store memcached://a:11211,b:11211,c:11211 -replicas 2
//	go run ./examples/shop -metrics   # and /metrics for Prometheus
//
// Sessions live in memory and end when the process does, unless -store
// names a store to keep them in: Redis, PostgreSQL, MySQL, MongoDB and SQLite keep them
// across restarts; memcached shares them between processes but loses them
// when it restarts. The cookie is not marked Secure unless -secure is
// given, so that the demo works over plain http://localhost; in
// production, serve HTTPS and keep the default.
package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/sessiongen/sessiongen/internal/storeurl"
	"github.com/sessiongen/sessiongen/runtime"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		slog.Error(err.Error())
		os.Exit(1)
	}
}

// logEvent prints each change in a session's life on one line: its kind,
// the store key (never the session ID) and the visitor it belongs to.
func logEvent(ctx context.Context, e runtime.Event) {
	slog.InfoContext(ctx, "session "+e.Kind.String(), "key", e.Key, "visitor", e.Owner)
}

// run serves the shop until ctx is done (SIGINT or SIGTERM), then lets the
// requests under way finish, for up to 10 seconds.
func run(ctx context.Context, args []string) error {
	flags := flag.NewFlagSet("shop", flag.ContinueOnError)
	addr := flags.String("addr", "localhost:8080", "address to listen on")
	secure := flags.Bool("secure", false, "mark the session cookie Secure (needs HTTPS)")
	storeURL := flags.String("store", "memory:", "where sessions live: "+storeurl.Forms)
	servers := flags.String("memcached", "", "comma-separated memcached `host:port` list (the same as -store memcached://…)")
	replicas := flags.Int("replicas", 1, "with memcached: keep each session on `n` of the servers, so that one can die without logging anyone out")
	maxSessions := flags.Int("max-sessions", 0, "sign a visitor in on at most `n` devices at once (0: the default, 500)")
	overLimit := flags.String("over-limit", "evict", "what a sign-in beyond -max-sessions does: evict (the oldest session ends) or refuse")
	atRest := flags.Bool("encrypt-at-rest", false, "seal every record in the store (Config.EncryptAtRest): a dump of it holds no email and no cart")
	withMetricsPage := flags.Bool("metrics", false, "serve the sessions' metrics at /metrics in Prometheus' text format (OpenTelemetry, runtime/otelsession)")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if *servers != "" {
		*storeURL = "memcached://" + *servers
	}

	secret := []byte(os.Getenv("SESSION_SECRET"))
	if len(secret) == 0 {
		secret = make([]byte, 32)
		rand.Read(secret)
		slog.Info("SESSION_SECRET is not set: using a random secret, so sessions end with the process whatever the store; set it (32 bytes or more) to keep them across restarts")
	}
	store, storeName, closeStore, err := storeurl.OpenReplicated(ctx, *storeURL, *replicas)
	if err != nil {
		return fmt.Errorf("bad -store: %w", err)
	}
	defer closeStore()
	cfg := runtime.Config{Secrets: [][]byte{secret}, Store: store, MaxSessionsPerOwner: *maxSessions, OnEvent: logEvent, EncryptAtRest: *atRest}
	switch *overLimit {
	case "evict":
	case "refuse":
		cfg.OverLimit = runtime.RefuseNew
	default:
		return fmt.Errorf("bad -over-limit %q: want evict or refuse", *overLimit)
	}
	cfg.Cookie.Name = "__Host-shop"
	if !*secure {
		cfg.Cookie.Secure, cfg.Cookie.Name = runtime.Off, "shop" // __Host- cookies need Secure
	}
	var page http.Handler
	if *withMetricsPage {
		obs, handler, stopMetrics, err := metrics()
		if err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
		defer stopMetrics(context.Background())
		cfg.Observer, page = obs, handler
	}
	app, sessions, err := newApp(cfg, storeName)
	if err != nil {
		return fmt.Errorf("bad session configuration: %w", err)
	}
	defer sessions.Close()
	if page != nil {
		app = withMetrics(app, page)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: app, ReadHeaderTimeout: 5 * time.Second}
	slog.Info("shop listening", "url", "http://"+ln.Addr().String(), "store", storeName)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	slog.Info("shop shutting down: finishing the requests under way")
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	slog.Info("shop stopped")
	return nil
}
