// Package postgres is a sessiongen store on PostgreSQL, for sessions that
// outlive restarts and are shared by every process of an application.
//
// Sessions live in one table (DDL prints it): key, data (the record),
// version and expires_at. Every operation is one statement: a load ignores
// expired rows; a create never overwrites a live session (INSERT … ON
// CONFLICT … WHERE the old row expired); a compare-and-swap is an UPDATE on
// key and version that writes data, version and expiry together (and,
// only when it changed nothing, a count tells a conflict from a vanished
// row); a touch updates the expiry alone; a
// delete of a missing row is no error. Expiry is judged by the
// application's clock, passed with every statement, never by the
// server's now().
//
// Expired rows are deleted in batches of 1,000 on a randomised interval,
// by one instance of the application at a time (a transaction-scoped
// advisory lock), never inside a request.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/internal/carry"
	"github.com/sessiongen/sessiongen/runtime/internal/neterr"
	"github.com/sessiongen/sessiongen/runtime/internal/sqlstore"
	"github.com/sessiongen/sessiongen/runtime/internal/storekit"
)

// Store is a runtime.Store on PostgreSQL.
type Store struct {
	*sqlstore.Store
	pruner *storekit.Pruner
	pool   *pgxpool.Pool
	own    bool
	table  string // quoted
	lock   int64  // advisory lock key of the pruner

	reports carry.Reporters // managers with Config.OnEvent: the pruner reports what expired
}

// Kind returns "postgresql", the store's name in telemetry (runtime.StoreOp).
func (s *Store) Kind() string { return "postgresql" }

// ReportExpired implements the runtime's expiry reports: Prune calls f
// with each session it deletes, once across the instances (one prunes at
// a time). A manager with Config.OnEvent registers itself; you need not
// call it.
func (s *Store) ReportExpired(f func(ctx context.Context, key string, rec []byte)) (stop func()) {
	return s.reports.Add(f)
}

var _ runtime.Store = (*Store)(nil)

// Defaults of the options.
const (
	DefaultTable         = "sessiongen_sessions"
	DefaultTimeout       = time.Second
	DefaultPruneInterval = 5 * time.Minute
	DefaultMaxRecordSize = 64 << 10
	// MaxRecordSize is the ceiling for WithMaxRecordSize.
	MaxRecordSize = 16 << 20
)

// An Option configures a Store.
type Option func(*options)

type options struct {
	table     string
	timeout   time.Duration
	prune     time.Duration
	maxRecord int
	noCreate  bool
	unlogged  bool
	log       *slog.Logger
}

// WithTable sets the table, "name" or "schema.name": lower-case letters,
// digits and underscores, starting with a letter or underscore. Default:
// "sessiongen_sessions".
func WithTable(name string) Option { return func(o *options) { o.table = name } }

// WithTimeout bounds each statement. Default: 1 s.
func WithTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// WithPruneInterval sets how often, on average, expired rows are deleted;
// 0 turns pruning off (prune with your own job then). Default: 5 minutes.
func WithPruneInterval(d time.Duration) Option { return func(o *options) { o.prune = d } }

// WithMaxRecordSize sets the largest record the store accepts (bytea has
// no practical limit of its own); larger ones fail with
// runtime.ErrTooLarge before anything is sent. Default: 64 KiB.
func WithMaxRecordSize(n int) Option { return func(o *options) { o.maxRecord = n } }

// WithoutCreateTable stops New and NewFromPool from creating the table
// when it is missing, for teams that run migrations (DDL prints it).
func WithoutCreateTable() Option { return func(o *options) { o.noCreate = true } }

// WithUnlogged creates the table UNLOGGED: writes skip the write-ahead
// log, so they are faster, and every session is lost if PostgreSQL
// crashes (not on a clean restart); replicas do not get the table. Off by
// default.
func WithUnlogged() Option { return func(o *options) { o.unlogged = true } }

// WithLogger sets where the pruner reports its errors. Default:
// slog.Default().
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

var identifier = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}(\.[a-z_][a-z0-9_]{0,62})?$`)

func build(opts []Option) (options, error) {
	o := options{table: DefaultTable, timeout: DefaultTimeout, prune: DefaultPruneInterval, maxRecord: DefaultMaxRecordSize, log: slog.Default()}
	for _, opt := range opts {
		opt(&o)
	}
	var errs []error
	if !identifier.MatchString(o.table) {
		errs = append(errs, fmt.Errorf("table %q: want lower-case letters, digits and _, as name or schema.name", o.table))
	}
	if err := storekit.CheckTimeout(o.timeout); err != nil {
		errs = append(errs, err)
	}
	if err := storekit.CheckPrune(o.prune); err != nil {
		errs = append(errs, err)
	}
	if err := storekit.CheckMaxRecord(o.maxRecord, MaxRecordSize); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return o, fmt.Errorf("sessiongen/postgres: %w", err)
	}
	return o, nil
}

// quote returns the table name as a quoted identifier.
func quote(table string) string {
	return pgx.Identifier(strings.Split(table, ".")).Sanitize()
}

// DDL returns the statements that create the table and its expiry index,
// as New runs them, for teams that create tables with migrations.
func DDL(opts ...Option) (string, error) {
	o, err := build(opts)
	if err != nil {
		return "", err
	}
	return ddl(o), nil
}

func ddl(o options) string {
	unlogged := ""
	if o.unlogged {
		unlogged = "UNLOGGED "
	}
	t := quote(o.table)
	// An index is always created in its table's schema, under a bare name.
	index := pgx.Identifier{o.table[strings.LastIndexByte(o.table, '.')+1:] + "_expires_at"}.Sanitize()
	return fmt.Sprintf(`CREATE %sTABLE IF NOT EXISTS %s (
	key        text PRIMARY KEY,
	data       bytea NOT NULL,
	version    bigint NOT NULL,
	expires_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS %s ON %s (expires_at);
`, unlogged, t, index, t)
}

// New connects to the database at dsn (postgres://user:password@host/db
// or key=value form; see pgx) with a pgxpool, creates the table if it is
// missing (unless WithoutCreateTable), and starts the pruner. Close stops
// both.
func New(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	o, err := build(opts)
	if err != nil {
		return nil, err
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("sessiongen/postgres: DSN: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("sessiongen/postgres: %w", err)
	}
	s, err := newStore(ctx, pool, o)
	if err != nil {
		pool.Close()
		return nil, err
	}
	s.own = true
	return s, nil
}

// NewFromPool returns a store on a pool you configured yourself; it
// creates the table if it is missing (unless WithoutCreateTable) and
// starts the pruner. Close stops the pruner and leaves the pool open.
func NewFromPool(pool *pgxpool.Pool, opts ...Option) (*Store, error) {
	if pool == nil {
		return nil, errors.New("sessiongen/postgres: NewFromPool needs a pool, got nil")
	}
	o, err := build(opts)
	if err != nil {
		return nil, err
	}
	return newStore(context.Background(), pool, o)
}

func newStore(ctx context.Context, pool *pgxpool.Pool, o options) (*Store, error) {
	t := quote(o.table)
	if !o.noCreate {
		ctx, cancel := context.WithTimeout(ctx, max(o.timeout, 10*time.Second))
		defer cancel()
		if _, err := pool.Exec(ctx, ddl(o)); err != nil {
			return nil, fmt.Errorf("sessiongen/postgres: creating table %s: %w", t, err)
		}
	}
	d := sqlstore.Dialect{
		Name:     "sessiongen/postgres",
		Load:     `SELECT data, version FROM ` + t + ` WHERE key = $1 AND expires_at > $2`,
		Create:   `INSERT INTO ` + t + ` AS s (key, data, version, expires_at) VALUES ($1, $2, $3, $4) ON CONFLICT (key) DO UPDATE SET data = EXCLUDED.data, version = EXCLUDED.version, expires_at = EXCLUDED.expires_at WHERE s.expires_at <= $5`,
		CAS:      `UPDATE ` + t + ` SET data = $2, version = $3, expires_at = $4 WHERE key = $1 AND version = $5 AND expires_at > $6`,
		CASLive:  `SELECT count(*) FROM ` + t + ` WHERE key = $1 AND expires_at > $2`,
		Touch:    `UPDATE ` + t + ` SET expires_at = $2 WHERE key = $1 AND expires_at > $3`,
		Delete:   `DELETE FROM ` + t + ` WHERE key = $1`,
		Time:     func(t time.Time) any { return t },
		Classify: classify,
	}
	h := fnv.New64a()
	h.Write([]byte("sessiongen prune " + o.table))
	s := &Store{Store: sqlstore.New(db{pool}, d, o.maxRecord, o.timeout), pool: pool, table: t, lock: int64(h.Sum64())}
	if o.prune > 0 {
		s.pruner = storekit.StartPruner(o.prune, o.timeout, s.Prune, func(err error) {
			o.log.Warn("sessiongen/postgres: pruning expired sessions failed", "table", o.table, "err", err)
		})
	}
	return s, nil
}

// Prune deletes up to 1,000 sessions expired at now and returns how many,
// unless another instance is pruning (then 0): the pruner calls it, and so
// can a job of yours when WithPruneInterval(0).
func (s *Store) Prune(ctx context.Context, now time.Time) (int64, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("sessiongen/postgres: prune: %w", err)
	}
	defer tx.Rollback(ctx)
	var mine bool
	if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock($1)`, s.lock).Scan(&mine); err != nil || !mine {
		return 0, err
	}
	del := `DELETE FROM ` + s.table + ` WHERE key IN (SELECT key FROM ` + s.table + ` WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`
	if !s.reports.Any() {
		tag, err := tx.Exec(ctx, del, now, storekit.PruneBatch)
		if err != nil {
			return 0, fmt.Errorf("sessiongen/postgres: prune: %w", err)
		}
		return tag.RowsAffected(), tx.Commit(ctx)
	}
	rows, err := tx.Query(ctx, del+` RETURNING key, data`, now, storekit.PruneBatch)
	if err != nil {
		return 0, fmt.Errorf("sessiongen/postgres: prune: %w", err)
	}
	var gone []carry.Removed
	for rows.Next() {
		var e carry.Removed
		if err := rows.Scan(&e.Key, &e.Rec); err != nil {
			rows.Close()
			return 0, fmt.Errorf("sessiongen/postgres: prune: %w", err)
		}
		gone = append(gone, e)
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("sessiongen/postgres: prune: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("sessiongen/postgres: prune: %w", err)
	}
	s.reports.ReportAll(ctx, gone) // once the deletes are committed
	return int64(len(gone)), nil
}

// Pool returns the underlying pool.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Close stops the pruner, and closes the pool New made (a pool passed to
// NewFromPool stays open).
func (s *Store) Close() error {
	s.pruner.Stop()
	if s.own {
		s.pool.Close()
	}
	return nil
}

// db adapts a pgxpool to sqlstore.DB.
type db struct{ p *pgxpool.Pool }

func (d db) QueryRow(ctx context.Context, sql string, args []any, dest ...any) error {
	err := d.p.QueryRow(ctx, sql, args...).Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return sqlstore.ErrNoRows
	}
	return err
}

func (d db) Exec(ctx context.Context, sql string, args ...any) (int64, error) {
	tag, err := d.p.Exec(ctx, sql, args...)
	return tag.RowsAffected(), err
}

// classify: an error the server answered (the statement failed, as a
// whole) and a failure to connect mean nothing was written; a write that
// failed any other way (timeout, connection lost mid-statement) has an
// unknown outcome.
func classify(err error, write bool) error {
	var pgErr *pgconn.PgError
	var connErr *pgconn.ConnectError
	if errors.Is(err, context.Canceled) {
		return err // the request went away
	}
	return storekit.Failure(err, write, errors.As(err, &pgErr) || errors.As(err, &connErr) || neterr.Dial(err) || pgconn.SafeToRetry(err))
}
