package alltypes

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessiongen/sessiongen/internal/servers"
	"github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/memcache"
	"github.com/sessiongen/sessiongen/runtime/mongo"
	"github.com/sessiongen/sessiongen/runtime/postgres"
	"github.com/sessiongen/sessiongen/runtime/redis"
	"github.com/sessiongen/sessiongen/runtime/sqlite"
)

// getters lists the getter of every stored field of All, by name: the
// exported fields of allData and of the struct it embeds, but those
// tagged "-".
func getters() []string {
	var names []string
	var walk func(reflect.Type)
	walk = func(t reflect.Type) {
		for i := range t.NumField() {
			f := t.Field(i)
			switch {
			case f.Anonymous:
				walk(f.Type)
			case f.IsExported() && f.Tag.Get("session") != "-":
				names = append(names, f.Name)
			}
		}
	}
	walk(reflect.TypeFor[allData]())
	return names
}

// opCounter counts the store operations of a store.
type opCounter interface{ ops() int64 }

type countingStore struct {
	runtime.Store
	n atomic.Int64
}

func (s *countingStore) Load(ctx context.Context, key string) ([]byte, uint64, error) {
	s.n.Add(1)
	return s.Store.Load(ctx, key)
}

func (s *countingStore) Save(ctx context.Context, key string, rec []byte, v uint64, exp time.Time) (uint64, error) {
	s.n.Add(1)
	return s.Store.Save(ctx, key, rec, v, exp)
}

func (s *countingStore) Touch(ctx context.Context, key string, exp time.Time) error {
	s.n.Add(1)
	return s.Store.Touch(ctx, key, exp)
}

func (s *countingStore) Delete(ctx context.Context, key string) error {
	s.n.Add(1)
	return s.Store.Delete(ctx, key)
}

func (s *countingStore) ops() int64 { return s.n.Load() }

// memcachedOps counts what a real memcached served, from its own stats.
type memcachedOps struct {
	runtime.Store
	srv *servers.MemcachedServer
}

func (m memcachedOps) ops() int64 {
	st := m.srv.Stats()
	return st["cmd_get"] + st["cmd_set"] + st["cmd_touch"] + st["delete_hits"] + st["delete_misses"] + st["curr_items"]
}

// TestReadingANewSessionStoresNothing reads every field of every kind
// from a request that brought no cookie: no store call, no cookie, and the
// session stays new. Setting a field, the control, stores it.
func TestReadingANewSessionStoresNothing(t *testing.T) {
	stores := map[string]func(t *testing.T) interface {
		runtime.Store
		opCounter
	}{
		"memory": func(t *testing.T) interface {
			runtime.Store
			opCounter
		} {
			m := runtime.NewMemoryStore()
			t.Cleanup(func() { m.Close() })
			return &countingStore{Store: m}
		},
		"memcached": func(t *testing.T) interface {
			runtime.Store
			opCounter
		} {
			srv := servers.StartMemcached(t)
			s, err := memcache.New(srv.Addr)
			if err != nil {
				t.Fatal(err)
			}
			return memcachedOps{Store: s, srv: srv}
		},
		"redis": func(t *testing.T) interface {
			runtime.Store
			opCounter
		} {
			s, err := redis.New(servers.StartRedis(t).URL())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return &countingStore{Store: s}
		},
		"postgres": func(t *testing.T) interface {
			runtime.Store
			opCounter
		} {
			s, err := postgres.New(context.Background(), servers.StartPostgres(t).DSN())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return &countingStore{Store: s}
		},
		"mongodb": func(t *testing.T) interface {
			runtime.Store
			opCounter
		} {
			s, err := mongo.New(context.Background(), servers.StartFerretDB(t).URI("anon"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return &countingStore{Store: s}
		},
		"sqlite": func(t *testing.T) interface {
			runtime.Store
			opCounter
		} {
			s, err := sqlite.New(filepath.Join(t.TempDir(), "sessions.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return &countingStore{Store: s}
		},
	}
	for name, newStore := range stores {
		t.Run(name, func(t *testing.T) {
			store := newStore(t)
			mgr, err := NewAllManager(runtime.Config{Store: store, Secrets: [][]byte{bytes.Repeat([]byte("s"), 32)}})
			if err != nil {
				t.Fatal(err)
			}
			serve := func(f func(*All)) *http.Response {
				h := mgr.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { f(AllFrom(r.Context())) }))
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
				return rec.Result()
			}
			before := store.ops()
			for _, getter := range getters() {
				var isNew bool
				resp := serve(func(s *All) {
					reflect.ValueOf(s).MethodByName(getter).Call(nil)
					isNew = s.IsNew()
				})
				if !isNew || len(resp.Cookies()) != 0 {
					t.Errorf("reading %s of a new session: IsNew %v, cookies %v; want true and none", getter, isNew, resp.Cookies())
				}
			}
			if n := store.ops() - before; n != 0 {
				t.Fatalf("reading %d fields of new sessions cost %d store operations, want 0", len(getters()), n)
			}
			resp := serve(func(s *All) { s.As(); s.SetS("x") })
			if len(resp.Cookies()) != 1 || store.ops() == before {
				t.Fatalf("setting a field of a new session: cookies %v, store operations %d: want a cookie and a write", resp.Cookies(), store.ops()-before)
			}
		})
	}
}
