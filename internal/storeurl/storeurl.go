// Package storeurl opens a session store named by a URL, for the demo's
// -store flag and the command line:
//
//	memory:                                  the in-memory store (the default)
//	memcached://host:port[,host:port…]       memcached servers
//	redis://[user:pass@]host:port[/db]       Redis or Valkey (rediss:// for TLS)
//	postgres://user:pass@host:port/db        PostgreSQL (postgresql:// too)
//	mysql://user:pass@host:port/db           MySQL or MariaDB
//	mongodb://[user:pass@]host:port/db       MongoDB (or FerretDB; mongodb+srv:// too)
//	sqlite:path/to/sessions.db               a SQLite file
//	cookie:                                  no store: each session sealed in its cookie
package storeurl

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/cookiestore"
	"github.com/sessiongen/sessiongen/runtime/memcache"
	"github.com/sessiongen/sessiongen/runtime/mongo"
	"github.com/sessiongen/sessiongen/runtime/mysql"
	"github.com/sessiongen/sessiongen/runtime/postgres"
	"github.com/sessiongen/sessiongen/runtime/redis"
	"github.com/sessiongen/sessiongen/runtime/sqlite"
)

// Forms lists the accepted URL forms, for usage messages.
const Forms = "memory:, memcached://host:port[,host:port…], redis://host:port[/db], postgres://user@host/db, mysql://user@host/db, mongodb://host/db, sqlite:path, cookie:"

// Open returns the store rawURL names and a function that closes it.
// Its name is what the demo shows: the kind of store and where it is,
// never a password.
func Open(ctx context.Context, rawURL string) (store runtime.Backend, name string, closeFn func() error, err error) {
	return OpenReplicated(ctx, rawURL, 1)
}

// OpenExisting is Open for a reader, such as the inspector: it creates
// neither a PostgreSQL or MySQL table nor a SQLite file that is missing. (The
// MongoDB store still makes sure of its expiry index.)
func OpenExisting(ctx context.Context, rawURL string) (store runtime.Backend, name string, closeFn func() error, err error) {
	scheme, rest, _ := strings.Cut(rawURL, ":")
	if scheme == "sqlite" {
		if _, err := os.Stat(strings.TrimPrefix(rest, "//")); err != nil {
			return nil, "", nil, fmt.Errorf("store URL %q: %w", redact(rawURL), err)
		}
	}
	if scheme == "postgres" || scheme == "postgresql" {
		s, err := postgres.New(ctx, rawURL, postgres.WithoutCreateTable())
		if err != nil {
			return nil, "", nil, err
		}
		return s, "PostgreSQL " + hostOf(rest), s.Close, nil
	}
	if scheme == "mysql" {
		s, err := mysql.New(ctx, rawURL, mysql.WithoutCreateTable())
		if err != nil {
			return nil, "", nil, err
		}
		return s, "MySQL " + hostOf(rest), s.Close, nil
	}
	return Open(ctx, rawURL)
}

// OpenReplicated is Open with memcached keeping each session on replicas
// of its servers (memcache.WithReplicas); other stores ignore replicas.
func OpenReplicated(ctx context.Context, rawURL string, replicas int) (store runtime.Backend, name string, closeFn func() error, err error) {
	scheme, rest, _ := strings.Cut(rawURL, ":")
	switch scheme {
	case "", "memory":
		m := runtime.NewMemoryStore()
		return m, "memory (this process only)", m.Close, nil
	case "memcached":
		servers := strings.Split(strings.TrimPrefix(rest, "//"), ",")
		s, err := memcache.NewWithOptions(servers, memcache.WithReplicas(max(replicas, 1)))
		if err != nil {
			return nil, "", nil, err
		}
		name := "memcached " + strings.Join(servers, ",")
		if replicas > 1 {
			name += fmt.Sprintf(", each session on %d of them", replicas)
		}
		return s, name, func() error { return nil }, nil
	case "redis", "rediss", "unix":
		s, err := redis.New(rawURL)
		if err != nil {
			return nil, "", nil, err
		}
		return s, "Redis " + hostOf(rest), s.Close, nil
	case "postgres", "postgresql":
		s, err := postgres.New(ctx, rawURL)
		if err != nil {
			return nil, "", nil, err
		}
		return s, "PostgreSQL " + hostOf(rest), s.Close, nil
	case "mysql":
		s, err := mysql.New(ctx, rawURL)
		if err != nil {
			return nil, "", nil, err
		}
		return s, "MySQL " + hostOf(rest), s.Close, nil
	case "mongodb", "mongodb+srv":
		s, err := mongo.New(ctx, rawURL)
		if err != nil {
			return nil, "", nil, err
		}
		return s, "MongoDB " + hostOf(rest), s.Close, nil
	case "cookie":
		s, err := cookiestore.New()
		if err != nil {
			return nil, "", nil, err
		}
		return s, "sealed cookies (no server-side store)", func() error { return nil }, nil
	case "sqlite":
		s, err := sqlite.New(strings.TrimPrefix(rest, "//"))
		if err != nil {
			return nil, "", nil, err
		}
		return s, "SQLite " + rest, s.Close, nil
	}
	return nil, "", nil, fmt.Errorf("store URL %q: unknown scheme %q; want one of %s", redact(rawURL), scheme, Forms)
}

// hostOf returns the host part of "//user:pass@host:port/db?x".
func hostOf(rest string) string {
	rest = strings.TrimPrefix(rest, "//")
	if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		rest = rest[i+1:]
	}
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		rest = rest[:i]
	}
	return rest
}

// redact hides what could be a password.
func redact(rawURL string) string {
	if i := strings.LastIndexByte(rawURL, '@'); i >= 0 {
		if j := strings.Index(rawURL, "//"); j >= 0 && j < i {
			return rawURL[:j+2] + "…@" + rawURL[i+1:]
		}
	}
	return rawURL
}
