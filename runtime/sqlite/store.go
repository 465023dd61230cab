// Package sqlite is a sessiongen store in a SQLite file, for applications
// on one machine: sessions survive restarts and need no server. It uses
// modernc.org/sqlite, a pure-Go SQLite (no cgo).
//
// The file is created 0600 (it holds live sessions) and opened in WAL
// mode with synchronous=NORMAL: a committed session survives a crash of
// the application, not necessarily a power loss or an OS crash (the last
// transactions may roll back then). Several processes on the machine may
// share the file: writers take turns (a busy timeout, and a statement that
// still finds the database busy is sent again), so "database is locked"
// never reaches a user.
//
// Each operation is one statement on one table (key, data, version,
// expires_at in unix milliseconds), with the same rules as the PostgreSQL
// store: expired rows are ignored and pruned in batches on a randomised
// interval, a create never overwrites a live session, a compare-and-swap
// writes data, version and expiry together.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"regexp"
	"sync/atomic"
	"time"

	"github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/internal/carry"
	"github.com/sessiongen/sessiongen/runtime/internal/sqlstore"
	"github.com/sessiongen/sessiongen/runtime/internal/storekit"
	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Store is a runtime.Store in a SQLite file.
type Store struct {
	*sqlstore.Store
	pruner  *storekit.Pruner
	db      *sql.DB // the one connection that writes
	readers *sql.DB // read-only connections, for loads while no write waits
	table   string
	reports carry.Reporters // managers with Config.OnEvent: the pruner reports what expired
}

// Kind returns "sqlite", the store's name in telemetry (runtime.StoreOp).
func (s *Store) Kind() string { return "sqlite" }

// ReportExpired implements the runtime's expiry reports: Prune calls f
// with each session it deletes. A manager with Config.OnEvent registers
// itself; you need not call it.
func (s *Store) ReportExpired(f func(ctx context.Context, key string, rec []byte)) (stop func()) {
	return s.reports.Add(f)
}

var _ runtime.Store = (*Store)(nil)

// Defaults of the options.
const (
	DefaultTable         = "sessiongen_sessions"
	DefaultBusyTimeout   = 5 * time.Second
	DefaultPruneInterval = 5 * time.Minute
	DefaultMaxRecordSize = 64 << 10
	// MaxRecordSize is the ceiling for WithMaxRecordSize.
	MaxRecordSize = 16 << 20
)

// An Option configures a Store.
type Option func(*options)

type options struct {
	table     string
	busy      time.Duration
	prune     time.Duration
	maxRecord int
	log       *slog.Logger
}

// WithTable sets the table: letters, digits and underscores, starting
// with a letter or underscore. Default: "sessiongen_sessions".
func WithTable(name string) Option { return func(o *options) { o.table = name } }

// WithBusyTimeout bounds how long a statement waits for another writer
// (of this or another process) to finish. Default: 5 s.
func WithBusyTimeout(d time.Duration) Option { return func(o *options) { o.busy = d } }

// WithPruneInterval sets how often, on average, expired rows are deleted;
// 0 turns pruning off. Default: 5 minutes.
func WithPruneInterval(d time.Duration) Option { return func(o *options) { o.prune = d } }

// WithMaxRecordSize sets the largest record the store accepts; larger
// ones fail with runtime.ErrTooLarge. Default: 64 KiB.
func WithMaxRecordSize(n int) Option { return func(o *options) { o.maxRecord = n } }

// WithLogger sets where the pruner reports its errors. Default:
// slog.Default().
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

func build(opts []Option) (options, error) {
	o := options{table: DefaultTable, busy: DefaultBusyTimeout, prune: DefaultPruneInterval, maxRecord: DefaultMaxRecordSize, log: slog.Default()}
	for _, opt := range opts {
		opt(&o)
	}
	var errs []error
	if !identifier.MatchString(o.table) {
		errs = append(errs, fmt.Errorf("table %q: want letters, digits and _", o.table))
	}
	if o.busy < time.Millisecond {
		errs = append(errs, fmt.Errorf("busy timeout %v: must be at least 1 ms", o.busy))
	}
	if err := storekit.CheckPrune(o.prune); err != nil {
		errs = append(errs, err)
	}
	if err := storekit.CheckMaxRecord(o.maxRecord, MaxRecordSize); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return o, fmt.Errorf("sessiongen/sqlite: %w", err)
	}
	return o, nil
}

// New opens (creating it 0600 if missing) the SQLite file at path,
// creates the table if missing, and starts the pruner. Close stops both.
func New(path string, opts ...Option) (*Store, error) {
	o, err := build(opts)
	if err != nil {
		return nil, err
	}
	if path == "" || path == ":memory:" {
		return nil, fmt.Errorf("sessiongen/sqlite: path %q: want a file, so that sessions outlive the process", path)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sessiongen/sqlite: %w", err)
	}
	f.Close()
	db, err := open(path, o.busy, "journal_mode(WAL)", "synchronous(NORMAL)")
	if err != nil {
		return nil, err
	}
	// One connection writes: this process's writes take turns here rather
	// than in SQLite's locks, where a writer can be refused at once.
	// Loads use read-only connections beside it while no write waits
	// (rw).
	db.SetMaxOpenConns(1)
	readers, err := open(path, o.busy, "query_only(1)")
	if err != nil {
		db.Close()
		return nil, err
	}
	readers.SetMaxOpenConns(readConns)
	readers.SetMaxIdleConns(readConns)
	t := `"` + o.table + `"`
	ddl := `CREATE TABLE IF NOT EXISTS ` + t + ` (key TEXT PRIMARY KEY, data BLOB NOT NULL, version INTEGER NOT NULL, expires_at INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS "` + o.table + `_expires_at" ON ` + t + ` (expires_at);`
	if _, err := db.Exec(ddl); err != nil {
		db.Close()
		return nil, fmt.Errorf("sessiongen/sqlite: creating table %s in %s: %w", t, path, err)
	}
	d := sqlstore.Dialect{
		Name:     "sessiongen/sqlite",
		Load:     `SELECT data, version FROM ` + t + ` WHERE key = ?1 AND expires_at > ?2`,
		Create:   `INSERT INTO ` + t + ` (key, data, version, expires_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (key) DO UPDATE SET data = excluded.data, version = excluded.version, expires_at = excluded.expires_at WHERE ` + t + `.expires_at <= ?5`,
		CAS:      `UPDATE ` + t + ` SET data = ?2, version = ?3, expires_at = ?4 WHERE key = ?1 AND version = ?5 AND expires_at > ?6`,
		CASLive:  `SELECT count(*) FROM ` + t + ` WHERE key = ?1 AND expires_at > ?2`,
		Touch:    `UPDATE ` + t + ` SET expires_at = ?2 WHERE key = ?1 AND expires_at > ?3`,
		Delete:   `DELETE FROM ` + t + ` WHERE key = ?1`,
		Time:     func(t time.Time) any { return t.UnixMilli() },
		Classify: classify,
	}
	s := &Store{Store: sqlstore.New(&rw{SQLDB: conn(db), readers: conn(readers)}, d, o.maxRecord, 0), db: db, readers: readers, table: t}
	if o.prune > 0 {
		s.pruner = storekit.StartPruner(o.prune, o.busy, s.Prune, func(err error) {
			o.log.Warn("sessiongen/sqlite: pruning expired sessions failed", "path", path, "err", err)
		})
	}
	return s, nil
}

// Prune deletes up to 1,000 sessions expired at now and returns how many.
// The pruner calls it; so can a job of yours when WithPruneInterval(0).
func (s *Store) Prune(ctx context.Context, now time.Time) (int64, error) {
	del := `DELETE FROM ` + s.table + ` WHERE key IN (SELECT key FROM ` + s.table + ` WHERE expires_at <= ?1 LIMIT ?2)`
	if !s.reports.Any() {
		n, err := conn(s.db).Exec(ctx, del, now.UnixMilli(), storekit.PruneBatch)
		if err != nil {
			return 0, fmt.Errorf("sessiongen/sqlite: prune: %w", err)
		}
		return n, nil
	}
	var gone []carry.Removed
	err := conn(s.db).Retry(ctx, func() error {
		rows, err := s.db.QueryContext(ctx, del+` RETURNING key, data`, now.UnixMilli(), storekit.PruneBatch)
		if err == nil {
			gone, err = sqlstore.ScanRemoved(rows)
		}
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("sessiongen/sqlite: prune: %w", err)
	}
	s.reports.ReportAll(ctx, gone) // the statement is done: the deletes are committed
	return int64(len(gone)), nil
}

// open opens a pool on the file with a busy timeout and the pragmas given.
func open(path string, busy time.Duration, pragmas ...string) (*sql.DB, error) {
	q := url.Values{"_pragma": append([]string{fmt.Sprintf("busy_timeout(%d)", busy.Milliseconds())}, pragmas...)}
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path, RawQuery: q.Encode()}).String())
	if err != nil {
		return nil, fmt.Errorf("sessiongen/sqlite: %w", err)
	}
	return db, nil
}

// DB returns the underlying database.
func (s *Store) DB() *sql.DB { return s.db }

// Close stops the pruner and closes the file.
func (s *Store) Close() error {
	s.pruner.Stop()
	return errors.Join(s.db.Close(), s.readers.Close())
}

// readConns is how many read-only connections load beside the writer.
const readConns = 2

// rw sends a load to the read-only connections while no write is under
// way or waiting in this process, and to the writer's connection, behind
// the writes, otherwise. Reads then run side by side when there is
// nothing to write, and leave the CPU to the one writer when there is:
// on two cores, loads in parallel with a stream of writes took 1.14-1.32x
// more writes but raised their p99 by 13-30% (scripts/load.sh; four read
// connections doubled the reads' p99 too).
type rw struct {
	*sqlstore.SQLDB                 // the writer
	readers         *sqlstore.SQLDB // the read-only connections
	writing         atomic.Int64    // writes under way or waiting
}

// QueryRow implements sqlstore.DB.
func (d *rw) QueryRow(ctx context.Context, q string, args []any, dest ...any) error {
	if d.writing.Load() == 0 {
		return d.readers.QueryRow(ctx, q, args, dest...)
	}
	return d.SQLDB.QueryRow(ctx, q, args, dest...)
}

// Exec implements sqlstore.DB.
func (d *rw) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	d.writing.Add(1)
	defer d.writing.Add(-1)
	return d.SQLDB.Exec(ctx, q, args...)
}

// conn is the store's way to the file. A statement that finds the
// database busy (another process's writer held it past the busy timeout,
// or began after this statement's snapshot) did nothing, and is sent
// again a few times.
func conn(db *sql.DB) *sqlstore.SQLDB {
	return &sqlstore.SQLDB{Reads: db, Writes: db, Again: busy, Attempts: 5}
}

func busy(err error) bool {
	var e *sqlite.Error
	return errors.As(err, &e) && (e.Code()&0xff == sqlite3.SQLITE_BUSY || e.Code()&0xff == sqlite3.SQLITE_LOCKED)
}

// classify: a statement that failed did nothing (SQLite's statements are
// atomic, and the file is local): the store is unavailable, never unsure.
func classify(err error, _ bool) error {
	if errors.Is(err, context.Canceled) {
		return err
	}
	return storekit.Failure(err, false, true)
}
