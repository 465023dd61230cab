// Package sqlstore is what the SQL session stores (runtime/postgres,
// runtime/sqlite, runtime/mysql) share: the runtime.Store logic over one table, with the
// SQL text, the driver and the error classes supplied by each store. Every
// operation is one statement; expiry is judged by the application's clock
// alone, passed as a parameter, never by the server's.
//
// The table holds, per session: key (primary key), data (the record),
// version (a random non-zero 63-bit number that changes on every write)
// and the expiry.
package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/internal/neterr"
	"github.com/sessiongen/sessiongen/runtime/internal/storekit"
)

// DB runs statements; each store adapts its driver to it.
type DB interface {
	// QueryRow runs a query expected to return at most one row; scan
	// reads it and reports ErrNoRows when there is none.
	QueryRow(ctx context.Context, sql string, args []any, dest ...any) error
	// Exec runs a statement and returns the number of rows it changed.
	Exec(ctx context.Context, sql string, args ...any) (int64, error)
}

// ErrNoRows is what DB.QueryRow returns when the query found no row.
var ErrNoRows = errors.New("no rows")

// Dialect is the SQL of one server. Placeholders are numbered in the
// order given; a dialect may repeat or reorder them ($1…, ?1…). A
// Positional dialect writes ?1… too, and New turns them into the bare ?
// its server takes, with the arguments reordered to match.
type Dialect struct {
	// Name is the store's name in errors ("sessiongen/postgres").
	Name string
	// Load: (key, now) → data, version of a live row.
	Load string
	// Create: (key, data, version, expiry, now) inserts a row, or replaces
	// an expired one; it changes no live row.
	Create string
	// CAS: (key, data, new version, expiry, old version, now) updates the
	// live row if its version is still the old one. When it changed no
	// row, CASLive (key, now) counts the live rows, to tell a conflict
	// from a vanished row. (One statement that does both, an UPDATE in a
	// CTE beside a count, cost PostgreSQL 20% more on every success.)
	CAS, CASLive string
	// Touch: (key, expiry, now) moves the expiry of a live row.
	Touch string
	// Delete: (key) removes the row.
	Delete string
	// Time converts a time into the dialect's parameter.
	Time func(time.Time) any
	// Classify turns a driver error into the runtime's errors: for a
	// write, ErrOutcomeUnknown unless the statement surely did not run.
	Classify func(err error, write bool) error
	// Positional: the server takes bare ? placeholders, in order (MySQL).
	Positional bool
	// ChangedRows: the server counts the rows an UPDATE changed, not those
	// it matched (MySQL without clientFoundRows), so a touch that sets
	// the expiry a row already has counts 0; CASLive then tells a live
	// row from a vanished one. (A compare-and-swap always writes a new
	// version, so it changes the row it matches.)
	ChangedRows bool
}

// stmt is a statement as sent: its text, and for a positional dialect
// which argument each ? takes.
type stmt struct {
	sql   string
	order []int
}

var numbered = regexp.MustCompile(`\?([1-9])`)

// compile turns ?N placeholders into bare ones when positional.
func compile(q string, positional bool) stmt {
	if !positional {
		return stmt{sql: q}
	}
	var order []int
	q = numbered.ReplaceAllStringFunc(q, func(m string) string {
		n, _ := strconv.Atoi(m[1:])
		order = append(order, n-1)
		return "?"
	})
	return stmt{sql: q, order: order}
}

// args returns the arguments in the order the statement takes them.
func (st *stmt) args(args []any) []any {
	if st.order == nil {
		return args
	}
	out := make([]any, len(st.order))
	for i, j := range st.order {
		out[i] = args[j]
	}
	return out
}

// Store is a runtime.Store over one table.
type Store struct {
	db        DB
	d         Dialect
	maxRecord int
	timeout   time.Duration
	Now       func() time.Time // the application's clock; tests replace it

	load, create, cas, casLive, touch, del stmt
}

// New returns a store over db.
func New(db DB, d Dialect, maxRecord int, timeout time.Duration) *Store {
	c := func(q string) stmt { return compile(q, d.Positional) }
	return &Store{db: retrying{db}, d: d, maxRecord: maxRecord, timeout: timeout, Now: time.Now,
		load: c(d.Load), create: c(d.Create), cas: c(d.CAS), casLive: c(d.CASLive), touch: c(d.Touch), del: c(d.Delete)}
}

func (s *Store) exec(ctx context.Context, st *stmt, args ...any) (int64, error) {
	return s.db.Exec(ctx, st.sql, st.args(args)...)
}

func (s *Store) queryRow(ctx context.Context, st *stmt, args []any, dest ...any) error {
	return s.db.QueryRow(ctx, st.sql, st.args(args), dest...)
}

// retrying sends a statement once more when the pooled connection it drew
// was closed by a server that has since restarted (a pool checks only
// connections idle for a while): the statement either never reached a
// running server, or, if the server died just after running it, the
// second run is a create or compare-and-swap that fails harmlessly (the
// runtime then reads the record back).
type retrying struct{ DB }

func (r retrying) QueryRow(ctx context.Context, sql string, args []any, dest ...any) error {
	return neterr.Retry(ctx, func() error { return r.DB.QueryRow(ctx, sql, args, dest...) }, nil)
}

func (r retrying) Exec(ctx context.Context, sql string, args ...any) (n int64, err error) {
	err = neterr.Retry(ctx, func() (err error) { n, err = r.DB.Exec(ctx, sql, args...); return err }, nil)
	return n, err
}

func (s *Store) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.timeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, s.timeout)
}

func (s *Store) errorf(op string, err error) error {
	return fmt.Errorf("%s: %s: %w", s.d.Name, op, err)
}

// Load implements runtime.Store.
func (s *Store) Load(ctx context.Context, key string) ([]byte, uint64, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var data []byte
	var version int64
	err := s.queryRow(ctx, &s.load, []any{key, s.d.Time(s.Now())}, &data, &version)
	switch {
	case errors.Is(err, ErrNoRows):
		return nil, 0, s.errorf("load", runtime.ErrNotFound)
	case err != nil:
		return nil, 0, s.errorf("load", s.d.Classify(err, false))
	}
	return data, max(uint64(version), 1), nil
}

// Save implements runtime.Store.
func (s *Store) Save(ctx context.Context, key string, rec []byte, version uint64, expiry time.Time) (uint64, error) {
	if err := storekit.Fits(s.d.Name, rec, s.maxRecord); err != nil {
		return 0, err
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	now, exp, next := s.d.Time(s.Now()), s.d.Time(expiry), storekit.NewVersion(version)
	if version == 0 {
		n, err := s.exec(ctx, &s.create, key, rec, next, exp, now)
		switch {
		case err != nil:
			return 0, s.errorf("create", s.d.Classify(err, true))
		case n == 0:
			return 0, s.errorf("create", runtime.ErrConflict)
		}
		return uint64(next), nil
	}
	var live int64
	updated, err := s.exec(ctx, &s.cas, key, rec, next, exp, int64(version), now)
	if err == nil && updated == 0 {
		err = s.queryRow(ctx, &s.casLive, []any{key, now}, &live)
	}
	switch {
	case err != nil:
		return 0, s.errorf("compare-and-swap", s.d.Classify(err, true))
	case updated == 1:
		return uint64(next), nil
	case live == 0:
		return 0, s.errorf("compare-and-swap", runtime.ErrNotFound)
	}
	return 0, s.errorf("compare-and-swap", runtime.ErrConflict)
}

// Touch implements runtime.Store: it updates the expiry alone.
func (s *Store) Touch(ctx context.Context, key string, expiry time.Time) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	now := s.d.Time(s.Now())
	n, err := s.exec(ctx, &s.touch, key, s.d.Time(expiry), now)
	if err == nil && n == 0 && s.d.ChangedRows {
		err = s.queryRow(ctx, &s.casLive, []any{key, now}, &n)
	}
	switch {
	case err != nil:
		return s.errorf("touch", s.d.Classify(err, false))
	case n == 0:
		return s.errorf("touch", runtime.ErrNotFound)
	}
	return nil
}

// Delete implements runtime.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if _, err := s.exec(ctx, &s.del, key); err != nil {
		return s.errorf("delete", s.d.Classify(err, false))
	}
	return nil
}
