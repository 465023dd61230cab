package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/sessiongen/sessiongen/runtime/internal/carry"
)

// SQLDB adapts database/sql pools to DB: queries go to Reads, statements
// that write to Writes (one pool for both, unless a store reads beside its
// writer). A statement that failed with an error Again reports did
// nothing (the server rolled it back, or never ran it), and is sent
// again, up to Attempts times in all, a millisecond longer apart each
// time.
type SQLDB struct {
	Reads, Writes *sql.DB
	Again         func(error) bool
	Attempts      int
}

// QueryRow implements DB.
func (d *SQLDB) QueryRow(ctx context.Context, q string, args []any, dest ...any) error {
	return d.Retry(ctx, func() error {
		err := d.Reads.QueryRowContext(ctx, q, args...).Scan(dest...)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNoRows
		}
		return err
	})
}

// Exec implements DB.
func (d *SQLDB) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	var n int64
	err := d.Retry(ctx, func() error {
		r, err := d.Writes.ExecContext(ctx, q, args...)
		if err == nil {
			n, err = r.RowsAffected()
		}
		return err
	})
	return n, err
}

// ScanRemoved reads the rows of a query that returns the key and the
// record of each row it removed (or is about to).
func ScanRemoved(rows *sql.Rows) ([]carry.Removed, error) {
	defer rows.Close()
	var out []carry.Removed
	for rows.Next() {
		var g carry.Removed
		if err := rows.Scan(&g.Key, &g.Rec); err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

// Retry runs op, and again while it fails with an error Again reports,
// up to Attempts times in all.
func (d *SQLDB) Retry(ctx context.Context, op func() error) error {
	for attempt := 1; ; attempt++ {
		err := op()
		if attempt >= d.Attempts || !d.Again(err) || ctx.Err() != nil {
			return err
		}
		time.Sleep(time.Duration(attempt) * time.Millisecond)
	}
}
