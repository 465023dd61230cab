package postgres_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/sessiongen/sessiongen/internal/servers"
	"github.com/sessiongen/sessiongen/internal/storebench"
	"github.com/sessiongen/sessiongen/runtime/postgres"
)

// BenchmarkPostgres times the A-D scenarios (A read, B write, C anonymous,
// D login) through the middleware on a
// real PostgreSQL, next to raw pgx statements doing the same round trips
// on a row of the workload's size: A against one SELECT, B against SELECT
// and the compare-and-swap UPDATE, D against one INSERT. Like the store,
// the raw statements run under the store's per-statement timeout (pgx
// watches a cancellable context with a goroutine, as it does for any
// request's context); raw-select-nodeadline shows what that costs.
func BenchmarkPostgres(b *testing.B) {
	srv := servers.StartPostgres(b)
	store, err := postgres.New(context.Background(), srv.DSN(), postgres.WithPruneInterval(0))
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	storebench.Run(b, store)
	b.Run("owned", func(b *testing.B) { storebench.RunOwned(b, store) }) // the same, with an owner field

	raw, err := pgxpool.New(context.Background(), srv.DSN())
	if err != nil {
		b.Fatal(err)
	}
	defer raw.Close()
	hour := func() time.Time { return time.Now().Add(time.Hour) }
	// timed runs a statement under the store's per-statement deadline.
	timed := func(f func(ctx context.Context) error) error {
		ctx, cancel := context.WithTimeout(context.Background(), postgres.DefaultTimeout)
		defer cancel()
		return f(ctx)
	}
	if _, err := raw.Exec(context.Background(), `INSERT INTO sessiongen_sessions VALUES ('raw', $1, 1, $2)`, storebench.Record, hour()); err != nil {
		b.Fatal(err)
	}
	var data []byte
	var version int64
	b.Run("raw-select-nodeadline", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if err := raw.QueryRow(context.Background(), `SELECT data, version FROM sessiongen_sessions WHERE key = $1 AND expires_at > $2`, "raw", time.Now()).Scan(&data, &version); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("raw-select", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if err := timed(func(ctx context.Context) error {
				return raw.QueryRow(ctx, `SELECT data, version FROM sessiongen_sessions WHERE key = $1 AND expires_at > $2`, "raw", time.Now()).Scan(&data, &version)
			}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("raw-select+update", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			now := time.Now()
			if err := timed(func(ctx context.Context) error {
				return raw.QueryRow(ctx, `SELECT data, version FROM sessiongen_sessions WHERE key = $1 AND expires_at > $2`, "raw", now).Scan(&data, &version)
			}); err != nil {
				b.Fatal(err)
			}
			if err := timed(func(ctx context.Context) error {
				tag, err := raw.Exec(ctx, `UPDATE sessiongen_sessions SET data = $2, version = $3, expires_at = $4 WHERE key = $1 AND version = $5 AND expires_at > $6`,
					"raw", storebench.Record, version+1, hour(), version, now) // a new version: the row changes
				if err == nil && tag.RowsAffected() != 1 {
					err = fmt.Errorf("%d rows updated", tag.RowsAffected())
				}
				return err
			}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("raw-insert", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			// Keys as random as session keys: they land all over the index.
			if err := timed(func(ctx context.Context) error {
				// The store's own create: never over a live session.
				_, err := raw.Exec(ctx, `INSERT INTO sessiongen_sessions AS s (key, data, version, expires_at) VALUES ($1, $2, 1, $3) ON CONFLICT (key) DO UPDATE SET data = EXCLUDED.data, version = EXCLUDED.version, expires_at = EXCLUDED.expires_at WHERE s.expires_at <= $4`,
					rand.Text(), storebench.Record, hour(), time.Now())
				return err
			}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
