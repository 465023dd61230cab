package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/sessiongen/sessiongen/internal/servers"
)

// TestOneInstancePrunesAtATime: while another instance holds the
// pruner's advisory lock, Prune deletes nothing; once it is free, it
// deletes the expired row.
func TestOneInstancePrunesAtATime(t *testing.T) {
	srv := servers.StartPostgres(t)
	ctx := context.Background()
	s, err := New(ctx, srv.DSN(), WithPruneInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	if _, err := s.Save(ctx, "old", []byte("rec"), 0, now.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	later := now.Add(time.Minute)
	tx, err := srv.Conn().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var held bool
	if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock($1)`, s.lock).Scan(&held); err != nil || !held {
		t.Fatalf("taking the lock: %v %v", held, err)
	}
	if n, err := s.Prune(ctx, later); n != 0 || err != nil {
		t.Fatalf("Prune while another instance prunes: %d rows, %v; want 0", n, err)
	}
	tx.Rollback(ctx)
	if n, err := s.Prune(ctx, later); n != 1 || err != nil {
		t.Fatalf("Prune once the lock is free: %d rows, %v; want 1", n, err)
	}
}

func TestDDL(t *testing.T) {
	got, err := DDL(WithTable("app.web_sessions"), WithUnlogged())
	if err != nil {
		t.Fatal(err)
	}
	want := `CREATE UNLOGGED TABLE IF NOT EXISTS "app"."web_sessions" (
	key        text PRIMARY KEY,
	data       bytea NOT NULL,
	version    bigint NOT NULL,
	expires_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS "web_sessions_expires_at" ON "app"."web_sessions" (expires_at);
`
	if got != want {
		t.Fatalf("DDL:\n%s\nwant:\n%s", got, want)
	}
	for _, bad := range []string{"Sessions", "a;drop table x", "a.b.c", `"x"`, ""} {
		if _, err := DDL(WithTable(bad)); err == nil {
			t.Errorf("table %q accepted", bad)
		}
	}
}
