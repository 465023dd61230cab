package mysql_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/sessiongen/sessiongen/internal/servers"
	"github.com/sessiongen/sessiongen/internal/storebench"
	"github.com/sessiongen/sessiongen/runtime/mysql"
)

// BenchmarkMySQL times the A-D scenarios (A read, B write, C anonymous,
// D login) through the middleware on a real MariaDB, next to the raw
// driver (database/sql, interpolateParams, as the store opens it) sending
// the same statements on a row of the workload's size: A against one
// SELECT, B against SELECT and the compare-and-swap UPDATE, D against one
// INSERT … ON DUPLICATE KEY UPDATE. Like the store, the raw statements
// run under the store's per-statement timeout.
func BenchmarkMySQL(b *testing.B) {
	srv := servers.StartMySQL(b)
	store, err := mysql.New(context.Background(), srv.URL(), mysql.WithPruneInterval(0))
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	storebench.Run(b, store)
	b.Run("owned", func(b *testing.B) { storebench.RunOwned(b, store) }) // the same, with an owner field

	raw, err := sql.Open("mysql", srv.DSN()+"?interpolateParams=true")
	if err != nil {
		b.Fatal(err)
	}
	defer raw.Close()
	raw.SetMaxIdleConns(64)
	hour := func() int64 { return time.Now().Add(time.Hour).UnixMilli() }
	timed := func(f func(ctx context.Context) error) error {
		ctx, cancel := context.WithTimeout(context.Background(), mysql.DefaultTimeout)
		defer cancel()
		return f(ctx)
	}
	if _, err := raw.Exec("INSERT INTO sessiongen_sessions VALUES ('raw', ?, 1, ?)", storebench.Record, hour()); err != nil {
		b.Fatal(err)
	}
	const load = "SELECT data, version FROM `sessiongen_sessions` WHERE `key` = ? AND expires_at > ?"
	var data []byte
	var version int64
	b.Run("raw-select", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if err := timed(func(ctx context.Context) error {
				return raw.QueryRowContext(ctx, load, "raw", time.Now().UnixMilli()).Scan(&data, &version)
			}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("raw-select+update", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			now := time.Now().UnixMilli()
			if err := timed(func(ctx context.Context) error {
				return raw.QueryRowContext(ctx, load, "raw", now).Scan(&data, &version)
			}); err != nil {
				b.Fatal(err)
			}
			if err := timed(func(ctx context.Context) error {
				r, err := raw.ExecContext(ctx, "UPDATE `sessiongen_sessions` SET data = ?, version = ?, expires_at = ? WHERE `key` = ? AND version = ? AND expires_at > ?",
					storebench.Record, version+1, hour(), "raw", version, now) // a new version: the row changes
				if err == nil {
					if n, _ := r.RowsAffected(); n != 1 {
						err = fmt.Errorf("%d rows updated", n)
					}
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
			if err := timed(func(ctx context.Context) error {
				// The store's own create: never over a live session.
				_, err := raw.ExecContext(ctx, "INSERT INTO `sessiongen_sessions` (`key`, data, version, expires_at) VALUES (?, ?, ?, ?) ON DUPLICATE KEY UPDATE "+
					"version = IF(expires_at <= ?, VALUES(version), version), data = IF(version = VALUES(version), VALUES(data), data), "+
					"expires_at = IF(version = VALUES(version), VALUES(expires_at), expires_at)",
					rand.Text(), storebench.Record, 1, hour(), time.Now().UnixMilli())
				return err
			}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
