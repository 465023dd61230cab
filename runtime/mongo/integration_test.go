package mongo_test

import (
	"context"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessiongen/sessiongen/internal/servers"
	"github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/mongo"
	"github.com/sessiongen/sessiongen/runtime/storetest"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	gomongo "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

var ctx = context.Background()

var dbs atomic.Int64

// newStore returns a store in a database of its own on srv.
func newStore(t testing.TB, uri string, opts ...mongo.Option) *mongo.Store {
	t.Helper()
	s, err := mongo.New(ctx, uri, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func freshDB() string { return "t" + strconv.FormatInt(dbs.Add(1), 10) }

// targets returns the URIs to test against: a FerretDB the test starts,
// and the MongoDB that SESSIONGEN_MONGO_URL names, if any.
func targets(t *testing.T) map[string]func(db string) string {
	srv := servers.StartFerretDB(t)
	out := map[string]func(string) string{"ferretdb": srv.URI}
	if u := os.Getenv("SESSIONGEN_MONGO_URL"); u != "" {
		out["mongodb"] = func(db string) string { return strings.TrimSuffix(u, "/") + "/" + db }
	}
	return out
}

func TestContract(t *testing.T) {
	for name, uri := range targets(t) {
		t.Run(name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) runtime.Store { return newStore(t, uri(freshDB())) })
		})
	}
}

func TestConcurrentRequests(t *testing.T) {
	for name, uri := range targets(t) {
		t.Run(name, func(t *testing.T) {
			storetest.RunLostUpdatesSlow(t, func(t *testing.T) runtime.Store { return newStore(t, uri(freshDB())) })
		})
	}
}

// TestOperationsPerRequest counts the commands the driver sends for the
// A-D scenarios: A (read) 1, B (write) 2, C (anonymous) 0, D
// (login) 1.
func TestOperationsPerRequest(t *testing.T) {
	srv := servers.StartFerretDB(t)
	var n atomic.Int64
	monitor := &event.CommandMonitor{Started: func(_ context.Context, e *event.CommandStartedEvent) {
		switch e.CommandName {
		case "find", "insert", "update", "delete", "count", "aggregate":
			n.Add(1)
		}
	}}
	c, err := gomongo.Connect(options.Client().ApplyURI(srv.URI("")).SetMonitor(monitor))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(ctx)
	s, err := mongo.NewFromClient(c, freshDB(), "sessions")
	if err != nil {
		t.Fatal(err)
	}
	storetest.RoundTrips(t, s, n.Load)
}

func TestKilledServer(t *testing.T) {
	srv := servers.StartFerretDB(t)
	storetest.Outage(t, newStore(t, srv.URI(freshDB()), mongo.WithTimeout(500*time.Millisecond)), srv.Stop, srv.Restart)
}

func TestPausedServer(t *testing.T) {
	srv := servers.StartFerretDB(t)
	const timeout = 300 * time.Millisecond
	storetest.Paused(t, newStore(t, srv.URI(freshDB()), mongo.WithTimeout(timeout)), timeout, srv.Pause, srv.Resume)
}

func TestRestartsKeepEveryoneLoggedIn(t *testing.T) {
	srv := servers.StartFerretDB(t)
	db := freshDB()
	storetest.Restarts(t, func() runtime.Store { return newStore(t, srv.URI(db)) }, srv.Restart)
}

func TestGarbageAndHostileRecords(t *testing.T) {
	srv := servers.StartFerretDB(t)
	db := freshDB()
	raw := srv.Client().Database(db).Collection("sessions")
	storetest.Garbage(t, newStore(t, srv.URI(db)), func(key string, rec []byte) {
		if _, err := raw.UpdateOne(ctx, bson.D{{Key: "_id", Value: key}}, bson.D{{Key: "$set", Value: bson.D{{Key: "data", Value: rec}}}}); err != nil {
			t.Fatal(err)
		}
	})
	// A document of the wrong shape entirely.
	a := storetest.NewApp(t, newStore(t, srv.URI(db)))
	cookie, key := a.Login("ada")
	raw.ReplaceOne(ctx, bson.D{{Key: "_id", Value: key}}, bson.D{{Key: "data", Value: "a string"}, {Key: "exp", Value: time.Now().Add(time.Hour)}})
	if rec := a.Do("/read", cookie); rec.Code != 200 || !strings.HasSuffix(rec.Body.String(), "new=true") {
		t.Errorf("a document of the wrong shape: %d %q, want a fresh session", rec.Code, rec.Body)
	}
}

// TestPruning: FerretDB has no TTL indexes, so the store prunes: an hour
// of simulated expiry leaves only live sessions, and never a live one.
func TestPruning(t *testing.T) {
	srv := servers.StartFerretDB(t)
	db := freshDB()
	s := newStore(t, srv.URI(db), mongo.WithPruneInterval(0))
	now := time.Now()
	start := now
	s.Now = func() time.Time { return now }
	for i := range 1500 {
		if _, err := s.Save(ctx, "k"+strconv.Itoa(i), []byte("rec"), 0, now.Add(time.Duration(i)*2400*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
	}
	coll := srv.Client().Database(db).Collection("sessions")
	for step := range 13 {
		now = now.Add(5 * time.Minute)
		for {
			n, err := s.Prune(ctx, now)
			if err != nil {
				t.Fatal(err)
			}
			if n < 1000 {
				break
			}
		}
		total, _ := coll.CountDocuments(ctx, bson.D{})
		live, _ := coll.CountDocuments(ctx, bson.D{{Key: "exp", Value: bson.D{{Key: "$gt", Value: now}}}})
		if total != live {
			t.Fatalf("step %d: %d documents, %d live", step, total, live)
		}
		want := int64(0)
		for i := range 1500 {
			if start.Add(time.Duration(i) * 2400 * time.Millisecond).After(now) {
				want++
			}
		}
		if live != want {
			t.Fatalf("step %d: %d live documents, want %d: pruning took a live session", step, live, want)
		}
	}
	if total, _ := coll.CountDocuments(ctx, bson.D{}); total != 0 {
		t.Fatalf("%d documents after the hour, want 0", total)
	}
}

func TestNewRejectsBadConfiguration(t *testing.T) {
	for _, tc := range []struct {
		uri  string
		opts []mongo.Option
		want string
	}{
		{"http://localhost", nil, "URI"},
		{"mongodb://localhost/a.b", nil, "database"},
		{"mongodb://localhost/db", []mongo.Option{mongo.WithCollection("system.x")}, "collection"},
		{"mongodb://localhost/db", []mongo.Option{mongo.WithTimeout(0)}, "timeout"},
	} {
		if _, err := mongo.New(ctx, tc.uri, tc.opts...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%q): %v, want an error about %s", tc.uri, err, tc.want)
		}
	}
}

// TestLifecycle: per-owner logout and its limit, events and sealed-cookie revocation (storetest.RunLifecycle) on the MongoDB wire protocol, two
// managers sharing one database.
func TestLifecycle(t *testing.T) {
	for name, uri := range targets(t) {
		t.Run(name, func(t *testing.T) {
			db := uri(freshDB())
			storetest.RunLifecycle(t, func(t *testing.T) runtime.Store { return newStore(t, db) })
		})
	}
}

// TestEncryptAtRest: Config.EncryptAtRest on this store (storetest.RunEncryptAtRest).
func TestEncryptAtRest(t *testing.T) {
	for name, uri := range targets(t) {
		t.Run(name, func(t *testing.T) {
			db := uri(freshDB())
			storetest.RunEncryptAtRest(t, func(t *testing.T) runtime.Store { return newStore(t, db) })
		})
	}
}
