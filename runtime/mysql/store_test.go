package mysql

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessiongen/sessiongen/internal/servers"
	"github.com/sessiongen/sessiongen/runtime"
)

// TestOneInstancePrunesAtATime: while another instance holds the
// pruner's lock, Prune deletes nothing; once it is free, it deletes the
// expired row.
func TestOneInstancePrunesAtATime(t *testing.T) {
	srv := servers.StartMySQL(t)
	ctx := context.Background()
	s, err := New(ctx, srv.URL(), WithPruneInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	if _, err := s.Save(ctx, "old", []byte("rec"), 0, now.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	later := now.Add(time.Minute)
	other, err := srv.DB().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	var held int
	if err := other.QueryRowContext(ctx, `SELECT GET_LOCK(?, 0)`, s.lock).Scan(&held); err != nil || held != 1 {
		t.Fatalf("taking the lock: %v %v", held, err)
	}
	if n, err := s.Prune(ctx, later); n != 0 || err != nil {
		t.Fatalf("Prune while another instance prunes: %d rows, %v; want 0", n, err)
	}
	other.ExecContext(ctx, `DO RELEASE_LOCK(?)`, s.lock)
	if n, err := s.Prune(ctx, later); n != 1 || err != nil {
		t.Fatalf("Prune once the lock is free: %d rows, %v; want 1", n, err)
	}
}

// TestConcurrentCreates: 16 goroutines create the same 600 keys, each in
// its own order, while the pruner deletes expired rows: 300 keys are new
// and 300 have an expired row the create replaces, unless the pruner took
// it first. For each key exactly one create wins and the rest conflict;
// no create fails otherwise. Without resending the statements InnoDB
// rolled back, a few creates fail with deadlocks (error 1213) against the
// pruner's batch delete, which locks the expiry index and then the rows
// while a create locks a row and then the index; the test counts them.
func TestConcurrentCreates(t *testing.T) {
	srv := servers.StartMySQL(t)
	const keys, writers = 600, 16
	run := func(t *testing.T, retries int) (failed int64) {
		defer func(old int) { lockRetries = old }(lockRetries)
		lockRetries = retries
		ctx := context.Background()
		s, err := New(ctx, srv.URL(), WithPruneInterval(0))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		for round := range 2 {
			key := func(i int) string { return fmt.Sprintf("r%d-%d-%d", retries, round, i) }
			for i := keys / 2; i < keys; i++ {
				if _, err := s.Save(ctx, key(i), []byte("old"), 0, time.Now().Add(200*time.Millisecond)); err != nil {
					t.Fatal(err)
				}
			}
			time.Sleep(300 * time.Millisecond)
			stop := make(chan struct{})
			pruned := make(chan struct{})
			go func() {
				defer close(pruned)
				for {
					select {
					case <-stop:
						return
					default:
						s.Prune(ctx, time.Now())
					}
				}
			}()
			var wins [keys]atomic.Int64
			var wg sync.WaitGroup
			for g := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for j := range keys {
						i := (j*7 + g*31) % keys
						_, err := s.Save(ctx, key(i), []byte(fmt.Sprint("by ", g)), 0, time.Now().Add(time.Hour))
						switch {
						case err == nil:
							wins[i].Add(1)
						case errors.Is(err, runtime.ErrConflict):
						default:
							atomic.AddInt64(&failed, 1)
							if retries > 0 {
								t.Errorf("create of %s: %v", key(i), err)
							}
						}
					}
				}()
			}
			wg.Wait()
			close(stop)
			<-pruned
			for i := range wins {
				if n := wins[i].Load(); n != 1 && retries > 0 {
					t.Errorf("%s: %d creates won, want 1", key(i), n)
				}
			}
		}
		return failed
	}
	const total = 2 * keys * writers
	t.Run("without resending", func(t *testing.T) {
		t.Logf("creates that failed (deadlock) without resending: %d of %d", run(t, 0), total)
	})
	t.Run("resending", func(t *testing.T) {
		if n := run(t, lockRetries); n != 0 {
			t.Fatalf("%d of %d creates failed", n, total)
		}
	})
}

func TestDDL(t *testing.T) {
	got, err := DDL(WithTable("web_sessions"))
	if err != nil {
		t.Fatal(err)
	}
	want := "CREATE TABLE IF NOT EXISTS `web_sessions` (\n" +
		"\t`key`      VARBINARY(255) NOT NULL PRIMARY KEY,\n" +
		"\tdata       LONGBLOB NOT NULL,\n" +
		"\tversion    BIGINT NOT NULL,\n" +
		"\texpires_at BIGINT NOT NULL,\n" +
		"\tINDEX `web_sessions_expires_at` (expires_at)\n" +
		") ENGINE=InnoDB\n"
	if got != want {
		t.Fatalf("DDL:\n%s\nwant:\n%s", got, want)
	}
	for _, bad := range []string{"a;drop table x", "a.b", "`x`", "", "1abc"} {
		if _, err := DDL(WithTable(bad)); err == nil {
			t.Errorf("table %q accepted", bad)
		}
	}
}

func TestParse(t *testing.T) {
	for _, tc := range []struct{ in, user, pass, addr, db string }{
		{"mysql://app:s3cr%40t@db.internal/sessions", "app", "s3cr@t", "db.internal:3306", "sessions"},
		{"mysql://root@127.0.0.1:3307/x?tls=false&readTimeout=2s", "root", "", "127.0.0.1:3307", "x"},
		{"app:pw@tcp(10.0.0.1:3306)/s?collation=utf8mb4_bin", "app", "pw", "10.0.0.1:3306", "s"},
	} {
		c, err := parse(tc.in)
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if c.User != tc.user || c.Passwd != tc.pass || c.Addr != tc.addr || c.DBName != tc.db {
			t.Errorf("%s: user %q pass %q addr %q db %q", tc.in, c.User, c.Passwd, c.Addr, c.DBName)
		}
	}
	if c, _ := parse("mysql://root@h/x?readTimeout=2s"); c == nil || c.ReadTimeout != 2*time.Second {
		t.Errorf("a URL's driver parameter is lost: %+v", c)
	}
	for _, bad := range []string{"mysql:///db", "mysql://h/x?readTimeout=soon"} {
		if _, err := parse(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}
