package mysql_test

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessiongen/sessiongen/internal/servers"
	"github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/mysql"
	"github.com/sessiongen/sessiongen/runtime/storetest"
)

var ctx = context.Background()

func newStore(t testing.TB, srv *servers.MySQLServer, opts ...mysql.Option) *mysql.Store {
	t.Helper()
	s, err := mysql.New(ctx, srv.URL(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestContract(t *testing.T) {
	srv := servers.StartMySQL(t)
	storetest.Run(t, func(t *testing.T) runtime.Store { return newStore(t, srv) })
}

func TestConcurrentRequests(t *testing.T) {
	srv := servers.StartMySQL(t)
	storetest.RunLostUpdates(t, func(t *testing.T) runtime.Store { return newStore(t, srv) })
}

// TestLifecycle: per-owner logout and its limit, events and sealed-cookie
// revocation (storetest.RunLifecycle) on a real MariaDB, two managers
// sharing it.
func TestLifecycle(t *testing.T) {
	srv := servers.StartMySQL(t)
	storetest.RunLifecycle(t, func(t *testing.T) runtime.Store { return newStore(t, srv) })
}

// TestEncryptAtRest: Config.EncryptAtRest on this store (storetest.RunEncryptAtRest).
func TestEncryptAtRest(t *testing.T) {
	srv := servers.StartMySQL(t)
	storetest.RunEncryptAtRest(t, func(t *testing.T) runtime.Store { return newStore(t, srv) })
}

// TestStatementsPerRequest counts the statements the server received
// (its Questions counter, less the query that reads it) for the A-D
// scenarios: A (read) 1, B (write) 2, C (anonymous) 0, D (login) 1.
func TestStatementsPerRequest(t *testing.T) {
	srv := servers.StartMySQL(t)
	s := newStore(t, srv, mysql.WithPruneInterval(0))
	raw := srv.DB()
	raw.SetMaxOpenConns(1)
	reads := int64(0)
	storetest.RoundTrips(t, s, func() int64 {
		var name string
		var n int64
		if err := raw.QueryRow(`SHOW GLOBAL STATUS LIKE 'Questions'`).Scan(&name, &n); err != nil {
			t.Fatal(err)
		}
		reads++
		return n - reads
	})
}

func TestKilledServer(t *testing.T) {
	srv := servers.StartMySQL(t)
	storetest.Outage(t, newStore(t, srv, mysql.WithTimeout(500*time.Millisecond)), srv.Stop, srv.Restart)
}

func TestPausedServer(t *testing.T) {
	srv := servers.StartMySQL(t)
	const timeout = 300 * time.Millisecond
	s := newStore(t, srv, mysql.WithTimeout(timeout))
	storetest.Paused(t, s, timeout, srv.Pause, srv.Resume)
}

func TestRestartsKeepEveryoneLoggedIn(t *testing.T) {
	srv := servers.StartMySQL(t)
	storetest.Restarts(t, func() runtime.Store { return newStore(t, srv) }, srv.Restart)
}

func TestGarbageAndHostileRecords(t *testing.T) {
	srv := servers.StartMySQL(t)
	raw := srv.DB()
	storetest.Garbage(t, newStore(t, srv), func(key string, rec []byte) {
		if _, err := raw.Exec("UPDATE sessiongen_sessions SET data = ? WHERE `key` = ?", rec, key); err != nil {
			t.Fatal(err)
		}
	})
}

// TestKeysAreBytes: keys that a text collation would fold together (case,
// trailing spaces, accents) are three sessions.
func TestKeysAreBytes(t *testing.T) {
	srv := servers.StartMySQL(t)
	s := newStore(t, srv)
	keys := []string{"abc", "ABC", "abc ", "abç"}
	for _, k := range keys {
		if _, err := s.Save(ctx, k, []byte("rec "+k), 0, time.Now().Add(time.Hour)); err != nil {
			t.Fatalf("create %q: %v", k, err)
		}
	}
	for _, k := range keys {
		rec, _, err := s.Load(ctx, k)
		if err != nil || string(rec) != "rec "+k {
			t.Errorf("load %q: %q, %v", k, rec, err)
		}
	}
}

// TestTouchThatChangesNothing: MySQL counts an UPDATE that writes the
// values a row holds as 0 rows; a touch to the expiry the row already has
// (two touches in one millisecond) is still a touch of a live session,
// and a touch of a missing one is still ErrNotFound.
func TestTouchThatChangesNothing(t *testing.T) {
	srv := servers.StartMySQL(t)
	s := newStore(t, srv)
	exp := time.Now().Add(time.Hour)
	if _, err := s.Save(ctx, "k", []byte("rec"), 0, exp); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := s.Touch(ctx, "k", exp); err != nil {
			t.Fatalf("touch %d to the same expiry: %v", i+1, err)
		}
	}
	if err := s.Touch(ctx, "missing", exp); !errors.Is(err, runtime.ErrNotFound) {
		t.Fatalf("touch of a missing session: %v, want ErrNotFound", err)
	}
}

// TestClientFoundRowsIsRefused: with clientFoundRows an ON DUPLICATE KEY
// UPDATE that left a live row alone counts 1, as an insert does: a
// create over a live session would look like a new one. NewFromDB says
// so rather than run that way; New turns it off.
func TestClientFoundRowsIsRefused(t *testing.T) {
	srv := servers.StartMySQL(t)
	db, err := sql.Open("mysql", srv.DSN()+"?clientFoundRows=true")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := mysql.NewFromDB(db); err == nil || !strings.Contains(err.Error(), "clientFoundRows") {
		t.Fatalf("NewFromDB on a pool with clientFoundRows: %v, want an error naming it", err)
	}
	s2, err := mysql.New(ctx, srv.URL()+"?clientFoundRows=true")
	if err != nil {
		t.Fatalf("New with clientFoundRows=true in the URL: %v; it turns it off", err)
	}
	defer s2.Close()
	exp := time.Now().Add(time.Hour)
	if _, err := s2.Save(ctx, "k", []byte("one"), 0, exp); err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Save(ctx, "k", []byte("two"), 0, exp); !errors.Is(err, runtime.ErrConflict) {
		t.Fatalf("a create over a live session: %v, want ErrConflict", err)
	}
}

// TestRecordOverMaxAllowedPacket: on a server whose max_allowed_packet is
// 1 MiB, a store that allows 4 MiB records refuses a 2 MiB one with
// ErrTooLarge naming the server's limit, before sending it; the store
// keeps working, and a record under the limit is saved.
func TestRecordOverMaxAllowedPacket(t *testing.T) {
	srv := servers.StartMySQL(t, "--max-allowed-packet=1M")
	s := newStore(t, srv, mysql.WithMaxRecordSize(4<<20))
	exp := time.Now().Add(time.Hour)
	_, err := s.Save(ctx, "big", make([]byte, 2<<20), 0, exp)
	if !errors.Is(err, runtime.ErrTooLarge) || !strings.Contains(err.Error(), "max_allowed_packet") {
		t.Fatalf("a 2 MiB record over a 1 MiB max_allowed_packet: %v, want ErrTooLarge naming max_allowed_packet", err)
	}
	rec := make([]byte, 900<<10) // zeros: escaped, they double in the statement
	if _, err := s.Save(ctx, "under", rec, 0, exp); err != nil {
		t.Fatalf("a 900 KiB record: %v", err)
	}
	if got, _, err := s.Load(ctx, "under"); err != nil || len(got) != len(rec) {
		t.Fatalf("load: %d bytes, %v", len(got), err)
	}

	// A pool of your own may interpolate arguments with a driver that
	// assumes a larger packet (its 64 MiB default): that record, escaped,
	// would take 1.8 MB and cost the connection (the server answers 1153
	// and closes it). The store keeps such pools within half the limit,
	// and the next statement runs on the same, healthy, connection.
	db, err := sql.Open("mysql", srv.DSN()+"?interpolateParams=true")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	own, err := mysql.NewFromDB(db, mysql.WithMaxRecordSize(4<<20), mysql.WithPruneInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	defer own.Close()
	_, err = own.Save(ctx, "escaped", rec, 0, exp)
	if !errors.Is(err, runtime.ErrTooLarge) || !strings.Contains(err.Error(), "max_allowed_packet") {
		t.Fatalf("a statement over max_allowed_packet: %v, want ErrTooLarge naming max_allowed_packet", err)
	}
	if _, err := own.Save(ctx, "small", []byte("rec"), 0, exp); err != nil {
		t.Fatalf("the next statement: %v", err)
	}
}

// TestWaitTimeoutCostsNoRequest: the server closes connections idle for
// its wait_timeout (1 s here); a pool that keeps them longer (NewFromDB,
// no SetConnMaxLifetime) still serves every request after the server
// closed them all.
func TestWaitTimeoutCostsNoRequest(t *testing.T) {
	srv := servers.StartMySQL(t, "--wait-timeout=1")
	db, err := sql.Open("mysql", srv.DSN()+"?interpolateParams=true")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxIdleConns(8)
	s, err := mysql.NewFromDB(db, mysql.WithPruneInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	exp := time.Now().Add(time.Hour)
	for i := range 4 {
		key := "k" + strconv.Itoa(i)
		if _, err := s.Save(ctx, key, []byte("rec"), 0, exp); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(2500 * time.Millisecond) // every pooled connection closed by the server
	for i := range 4 {
		key := "k" + strconv.Itoa(i)
		rec, v, err := s.Load(ctx, key)
		if err != nil {
			t.Fatalf("load after wait_timeout: %v", err)
		}
		if _, err := s.Save(ctx, key, append(rec, '!'), v, exp); err != nil {
			t.Fatalf("save after wait_timeout: %v", err)
		}
	}
}

// TestPruning: an hour of simulated time (the store's clock moved in
// steps) leaves only live sessions in the table, and pruning never takes
// a live one.
func TestPruning(t *testing.T) {
	srv := servers.StartMySQL(t)
	s := newStore(t, srv, mysql.WithPruneInterval(0))
	now := time.Now()
	start := now
	s.Now = func() time.Time { return now }
	raw := srv.DB()
	count := func() (total, live int64) {
		raw.QueryRow(`SELECT count(*), COALESCE(SUM(expires_at > ?), 0) FROM sessiongen_sessions`, now.UnixMilli()).Scan(&total, &live)
		return
	}
	const n = 2500
	for i := range n {
		if _, err := s.Save(ctx, "k"+strconv.Itoa(i), []byte("rec"), 0, now.Add(time.Duration(i)*1440*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
	}
	for step := range 13 {
		now = now.Add(5 * time.Minute)
		for {
			got, err := s.Prune(ctx, now)
			if err != nil {
				t.Fatal(err)
			}
			if got < 1000 {
				break
			}
		}
		total, live := count()
		if total != live {
			t.Fatalf("step %d: %d rows, %d live: expired rows left after pruning", step, total, live)
		}
		want := 0
		for i := range n {
			if start.Add(time.Duration(i) * 1440 * time.Millisecond).After(now) {
				want++
			}
		}
		if live != int64(want) {
			t.Fatalf("step %d: %d live rows, want %d: pruning took a live session", step, live, want)
		}
	}
	if total, _ := count(); total != 0 {
		t.Fatalf("%d rows after the hour, want 0", total)
	}
}

func TestExpiredReports(t *testing.T) {
	srv := servers.StartMySQL(t)
	storetest.RunExpiredReports(t, func(t *testing.T) runtime.Store { return newStore(t, srv, mysql.WithPruneInterval(0)) }, func(t *testing.T, s runtime.Store, now time.Time) {
		if _, err := s.(*mysql.Store).Prune(context.Background(), now); err != nil {
			t.Error(err)
		}
	})
}
