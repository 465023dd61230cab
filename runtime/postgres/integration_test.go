package postgres_test

import (
	"context"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/sessiongen/sessiongen/internal/servers"
	"github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/postgres"
	"github.com/sessiongen/sessiongen/runtime/storetest"
)

var ctx = context.Background()

func newStore(t testing.TB, srv *servers.PostgresServer, opts ...postgres.Option) *postgres.Store {
	t.Helper()
	s, err := postgres.New(ctx, srv.DSN(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestContract(t *testing.T) {
	srv := servers.StartPostgres(t)
	storetest.Run(t, func(t *testing.T) runtime.Store { return newStore(t, srv) })
}

func TestConcurrentRequests(t *testing.T) {
	srv := servers.StartPostgres(t)
	storetest.RunLostUpdates(t, func(t *testing.T) runtime.Store { return newStore(t, srv) })
}

// counter counts the statements a pool sends.
type counter struct{ n atomic.Int64 }

func (c *counter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.n.Add(1)
	return ctx
}

func (c *counter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// TestStatementsPerRequest counts the statements sent for the scenarios
// of the A-D scenarios: A (read) 1, B (write) 2, C (anonymous) 0, D (login) 1.
func TestStatementsPerRequest(t *testing.T) {
	srv := servers.StartPostgres(t)
	cfg, err := pgxpool.ParseConfig(srv.DSN())
	if err != nil {
		t.Fatal(err)
	}
	var c counter
	cfg.ConnConfig.Tracer = &c
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	s, err := postgres.NewFromPool(pool, postgres.WithPruneInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	storetest.RoundTrips(t, s, c.n.Load)
}

func TestKilledServer(t *testing.T) {
	srv := servers.StartPostgres(t)
	storetest.Outage(t, newStore(t, srv, postgres.WithTimeout(500*time.Millisecond)), srv.Stop, srv.Restart)
}

func TestPausedServer(t *testing.T) {
	srv := servers.StartPostgres(t)
	const timeout = 300 * time.Millisecond
	s := newStore(t, srv, postgres.WithTimeout(timeout))
	storetest.Paused(t, s, timeout, srv.Pause, srv.Resume)
}

func TestRestartsKeepEveryoneLoggedIn(t *testing.T) {
	srv := servers.StartPostgres(t)
	storetest.Restarts(t, func() runtime.Store { return newStore(t, srv) }, srv.Restart)
}

func TestGarbageAndHostileRecords(t *testing.T) {
	srv := servers.StartPostgres(t)
	raw := srv.Conn()
	storetest.Garbage(t, newStore(t, srv), func(key string, rec []byte) {
		if _, err := raw.Exec(ctx, `UPDATE sessiongen_sessions SET data = $2 WHERE key = $1`, key, rec); err != nil {
			t.Fatal(err)
		}
	})
}

// TestPruning: an hour of simulated time (the store's clock moved in
// steps) leaves only live sessions in the table, and pruning never takes
// a live one; a second instance running at the same time skips its turn.
func TestPruning(t *testing.T) {
	srv := servers.StartPostgres(t)
	s := newStore(t, srv, postgres.WithPruneInterval(0))
	now := time.Now()
	start := now
	s.Now = func() time.Time { return now }
	raw := srv.Conn()
	count := func() (total, live int64) {
		raw.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE expires_at > $1) FROM sessiongen_sessions`, now).Scan(&total, &live)
		return
	}
	// 2,500 sessions expiring over the hour, one a second or so.
	for i := range 2500 {
		if _, err := s.Save(ctx, "k"+strconv.Itoa(i), []byte("rec"), 0, now.Add(time.Duration(i)*1440*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
	}
	for step := range 13 {
		now = now.Add(5 * time.Minute)
		var pruned int64
		for {
			n, err := s.Prune(ctx, now)
			if err != nil {
				t.Fatal(err)
			}
			pruned += n
			if n < 1000 {
				break
			}
		}
		total, live := count()
		if total != live {
			t.Fatalf("step %d: %d rows, %d live: expired rows left after pruning", step, total, live)
		}
		if want := liveAt(start, now, 2500, 1440*time.Millisecond); live != int64(want) {
			t.Fatalf("step %d: %d live rows, want %d: pruning took a live session", step, live, want)
		}
		if step == 0 {
			t.Logf("after 5 simulated minutes: pruned %d, %d live rows remain", pruned, live)
		}
	}
	if total, _ := count(); total != 0 {
		t.Fatalf("%d rows after the hour, want 0", total)
	}
}

// liveAt counts the sessions i < n, made at start to expire at start +
// i×step, that are still live at now.
func liveAt(start, now time.Time, n int, step time.Duration) int {
	live := 0
	for i := range n {
		if start.Add(time.Duration(i) * step).After(now) {
			live++
		}
	}
	return live
}

// TestLifecycle: per-owner logout and its limit, events and sealed-cookie revocation (storetest.RunLifecycle) on a real PostgreSQL, two managers
// sharing it.
func TestLifecycle(t *testing.T) {
	srv := servers.StartPostgres(t)
	storetest.RunLifecycle(t, func(t *testing.T) runtime.Store { return newStore(t, srv) })
}

// TestEncryptAtRest: Config.EncryptAtRest on this store (storetest.RunEncryptAtRest).
func TestEncryptAtRest(t *testing.T) {
	srv := servers.StartPostgres(t)
	storetest.RunEncryptAtRest(t, func(t *testing.T) runtime.Store { return newStore(t, srv) })
}

func TestExpiredReports(t *testing.T) {
	srv := servers.StartPostgres(t)
	storetest.RunExpiredReports(t, func(t *testing.T) runtime.Store { return newStore(t, srv, postgres.WithPruneInterval(0)) }, func(t *testing.T, s runtime.Store, now time.Time) {
		if _, err := s.(*postgres.Store).Prune(context.Background(), now); err != nil {
			t.Error(err)
		}
	})
}

// TestEncryptAtRestDump: with EncryptAtRest, what psql prints of the
// sessions table (bytea as escaped text: printable bytes as they are)
// holds neither a field value nor the session ID.
func TestEncryptAtRestDump(t *testing.T) {
	srv := servers.StartPostgres(t)
	value, id := storetest.SealedLogin(t, newStore(t, srv))
	psql := servers.Binary(t, "psql", "SESSIONGEN_REQUIRE_POSTGRES", "apt-get install postgresql-client")
	out, err := exec.Command(psql, srv.DSN(), "-At", "-c", "SELECT key, encode(data, 'escape') FROM sessiongen_sessions").Output()
	if err != nil {
		t.Fatal(err)
	}
	if rows := strings.Count(string(out), "\n"); rows < 2 || strings.Contains(string(out), value) || strings.Contains(string(out), id) {
		t.Fatalf("psql's dump (%d rows) holds the field value %q or the session ID:\n%s", rows, value, out)
	}
}
