// Package mysql is a sessiongen store on MySQL or MariaDB, for sessions
// that outlive restarts and are shared by every process of an
// application. It uses github.com/go-sql-driver/mysql.
//
// Sessions live in one InnoDB table (DDL prints it): key (VARBINARY, so
// keys compare byte for byte: no collation folds case or trims spaces),
// data (LONGBLOB), version, and expires_at in unix milliseconds (no
// DATETIME: no time zone, no rounding). Every operation is one statement,
// the same as the PostgreSQL store's: a load ignores expired rows; a
// create never overwrites a live session (INSERT … ON DUPLICATE KEY
// UPDATE that replaces only an expired row); a compare-and-swap is an
// UPDATE on key and version; a touch updates the expiry alone; a delete
// of a missing row is no error. Expiry is judged by the application's
// clock, passed with every statement, never by the server's.
//
// MySQL's traps, and what the store does about each:
//
//   - An UPDATE reports the rows it changed, not those it matched (unless
//     the connection sets clientFoundRows, which would make a create over
//     a live session look like a new one: New turns it off and
//     NewFromDB refuses a pool that sets it). A compare-and-swap always
//     writes a new version; a touch that changed nothing is followed by a
//     count.
//   - Concurrent creates can deadlock (error 1213) or time out waiting
//     for a lock (1205): the server rolled the statement back, and the
//     store sends it again.
//   - A record larger than the server's max_allowed_packet (read when the
//     store starts) fails with runtime.ErrTooLarge naming that limit,
//     before anything is sent.
//   - Connections the server closed (a restart, wait_timeout) are
//     replaced without failing a request: the driver checks a pooled
//     connection before use, and New makes connections live at most half
//     the server's wait_timeout.
//
// Expired rows are deleted in batches of 1,000 on a randomised interval,
// by one instance of the application at a time (GET_LOCK), never inside
// a request.
package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/internal/carry"
	"github.com/sessiongen/sessiongen/runtime/internal/sqlstore"
	"github.com/sessiongen/sessiongen/runtime/internal/storekit"
)

// Store is a runtime.Store on MySQL or MariaDB.
type Store struct {
	*sqlstore.Store
	pruner *storekit.Pruner
	db     *sql.DB
	own    bool
	table  string // quoted
	lock   string // GET_LOCK name of the pruner
	packet int    // the largest record the server's max_allowed_packet lets through
	limit  int64  // max_allowed_packet

	reports carry.Reporters // managers with Config.OnEvent: the pruner reports what expired
}

// Kind returns "mysql", the store's name in telemetry (runtime.StoreOp).
func (s *Store) Kind() string { return "mysql" }

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
	log       *slog.Logger
}

// WithTable sets the table: letters, digits and underscores, starting
// with a letter or underscore, at most 64 characters. Default:
// "sessiongen_sessions".
func WithTable(name string) Option { return func(o *options) { o.table = name } }

// WithTimeout bounds each statement. Default: 1 s.
func WithTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// WithPruneInterval sets how often, on average, expired rows are deleted;
// 0 turns pruning off (prune with your own job then). Default: 5 minutes.
func WithPruneInterval(d time.Duration) Option { return func(o *options) { o.prune = d } }

// WithMaxRecordSize sets the largest record the store accepts; larger
// ones fail with runtime.ErrTooLarge before anything is sent. The
// server's max_allowed_packet bounds it too. Default: 64 KiB.
func WithMaxRecordSize(n int) Option { return func(o *options) { o.maxRecord = n } }

// WithoutCreateTable stops New and NewFromDB from creating the table when
// it is missing, for teams that run migrations (DDL prints it).
func WithoutCreateTable() Option { return func(o *options) { o.noCreate = true } }

// WithLogger sets where the pruner reports its errors, and where the
// driver's messages go, at debug level, for a store New opened. Default:
// slog.Default().
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

func build(opts []Option) (options, error) {
	o := options{table: DefaultTable, timeout: DefaultTimeout, prune: DefaultPruneInterval, maxRecord: DefaultMaxRecordSize, log: slog.Default()}
	for _, opt := range opts {
		opt(&o)
	}
	var errs []error
	if !identifier.MatchString(o.table) {
		errs = append(errs, fmt.Errorf("table %q: want letters, digits and _, at most 64", o.table))
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
		return o, fmt.Errorf("sessiongen/mysql: %w", err)
	}
	return o, nil
}

// DDL returns the statement that creates the table and its expiry index,
// as New runs it, for teams that create tables with migrations.
func DDL(opts ...Option) (string, error) {
	o, err := build(opts)
	if err != nil {
		return "", err
	}
	return ddl(o), nil
}

func ddl(o options) string {
	return fmt.Sprintf("CREATE TABLE IF NOT EXISTS `%s` (\n"+
		"\t`key`      VARBINARY(255) NOT NULL PRIMARY KEY,\n"+
		"\tdata       LONGBLOB NOT NULL,\n"+
		"\tversion    BIGINT NOT NULL,\n"+
		"\texpires_at BIGINT NOT NULL,\n"+
		"\tINDEX `%s_expires_at` (expires_at)\n"+
		") ENGINE=InnoDB\n", o.table, o.table)
}

// New connects to the database at dsn, a mysql://user:password@host:port/db
// URL or the driver's DSN (user:password@tcp(host:port)/db), creates the
// table if it is missing (unless WithoutCreateTable), and starts the
// pruner. Close stops both. Query parameters are the driver's; New sets
// interpolateParams (one round trip a statement instead of a prepare and
// an execute) and turns clientFoundRows off.
func New(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	o, err := build(opts)
	if err != nil {
		return nil, err
	}
	db, err := open(dsn, o.log)
	if err != nil {
		return nil, fmt.Errorf("sessiongen/mysql: DSN: %w", err)
	}
	s, err := newStore(ctx, db, o, true)
	if err != nil {
		db.Close()
		return nil, err
	}
	s.own = true
	return s, nil
}

// NewFromDB returns a store on a pool you opened yourself; it creates the
// table if it is missing (unless WithoutCreateTable) and starts the
// pruner. Close stops the pruner and leaves the pool open. The pool must
// not set clientFoundRows; set interpolateParams for one round trip a
// statement, and SetConnMaxLifetime below the server's wait_timeout.
func NewFromDB(db *sql.DB, opts ...Option) (*Store, error) {
	if db == nil {
		return nil, errors.New("sessiongen/mysql: NewFromDB needs a *sql.DB, got nil")
	}
	o, err := build(opts)
	if err != nil {
		return nil, err
	}
	return newStore(context.Background(), db, o, false)
}

func newStore(ctx context.Context, db *sql.DB, o options, own bool) (*Store, error) {
	ctx, cancel := context.WithTimeout(ctx, max(o.timeout, 10*time.Second))
	defer cancel()
	t := "`" + o.table + "`"
	if !o.noCreate {
		if _, err := db.ExecContext(ctx, ddl(o)); err != nil {
			return nil, fmt.Errorf("sessiongen/mysql: creating table %s: %w", t, err)
		}
	} else if _, err := db.ExecContext(ctx, `SELECT 1 FROM `+t+` LIMIT 0`); err != nil {
		return nil, fmt.Errorf("sessiongen/mysql: table %s (WithoutCreateTable; DDL prints it): %w", t, err)
	}
	var packet, wait int64
	var schema sql.NullString
	if err := db.QueryRowContext(ctx, `SELECT @@max_allowed_packet, @@wait_timeout, DATABASE()`).Scan(&packet, &wait, &schema); err != nil {
		return nil, fmt.Errorf("sessiongen/mysql: reading the server's limits: %w", err)
	}
	if own && wait > 1 {
		db.SetConnMaxLifetime(min(3*time.Minute, time.Duration(wait)*time.Second/2))
	}
	d := sqlstore.Dialect{
		Name: "sessiongen/mysql",
		Load: `SELECT data, version FROM ` + t + " WHERE `key` = ?1 AND expires_at > ?2",
		// The version is replaced first, only over an expired row; data
		// and expiry follow it (assignments see the ones before them). A
		// new version is random: it equals the old one only if replaced.
		Create: `INSERT INTO ` + t + " (`key`, data, version, expires_at) VALUES (?1, ?2, ?3, ?4) ON DUPLICATE KEY UPDATE " +
			`version = IF(expires_at <= ?5, VALUES(version), version), ` +
			`data = IF(version = VALUES(version), VALUES(data), data), ` +
			`expires_at = IF(version = VALUES(version), VALUES(expires_at), expires_at)`,
		CAS:         `UPDATE ` + t + " SET data = ?2, version = ?3, expires_at = ?4 WHERE `key` = ?1 AND version = ?5 AND expires_at > ?6",
		CASLive:     `SELECT count(*) FROM ` + t + " WHERE `key` = ?1 AND expires_at > ?2",
		Touch:       `UPDATE ` + t + " SET expires_at = ?2 WHERE `key` = ?1 AND expires_at > ?3",
		Delete:      `DELETE FROM ` + t + " WHERE `key` = ?1",
		Time:        func(t time.Time) any { return t.UnixMilli() },
		Classify:    classify,
		Positional:  true,
		ChangedRows: true,
	}
	h := fnv.New64a()
	h.Write([]byte(schema.String + "." + o.table))
	s := &Store{
		Store: sqlstore.New(conn(db), d, o.maxRecord, o.timeout),
		db:    db, table: t,
		lock:   fmt.Sprintf("sessiongen_prune_%016x", h.Sum64()),
		packet: int(packet) - packetOverhead,
		limit:  packet,
	}
	if !own {
		// A pool of yours may interpolate arguments into the statement,
		// where a record's bytes can take twice their room escaped, with
		// a driver that does not know the server's limit: a statement
		// over it would cost the connection. Keep within half.
		s.packet /= 2
	}
	if !own { // New's own pool has clientFoundRows off
		if err := s.checkFoundRows(ctx); err != nil {
			return nil, err
		}
	}
	if o.prune > 0 {
		s.pruner = storekit.StartPruner(o.prune, o.timeout, s.Prune, func(err error) {
			o.log.Warn("sessiongen/mysql: pruning expired sessions failed", "table", o.table, "err", err)
		})
	}
	return s, nil
}

// packetOverhead is what a statement carries besides its record: the
// text, the key, three numbers.
const packetOverhead = 1024

// probeKey is a key no session has (session keys are printable): the row
// checkFoundRows writes, expired, for the pruner to take. NewFromDB
// writes it; New, which opens its pool itself, writes nothing.
const probeKey = "\x00sessiongen-probe"

// checkFoundRows refuses a pool that sets clientFoundRows: an UPDATE that
// sets a row to the values it holds counts 0 without it, 1 with it.
func (s *Store) checkFoundRows(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `INSERT INTO `+s.table+" (`key`, data, version, expires_at) VALUES (?, '', 0, 0) ON DUPLICATE KEY UPDATE version = 0, expires_at = 0", probeKey); err != nil {
		return fmt.Errorf("sessiongen/mysql: %w", err)
	}
	r, err := s.db.ExecContext(ctx, `UPDATE `+s.table+" SET version = 0 WHERE `key` = ?", probeKey)
	if err != nil {
		return fmt.Errorf("sessiongen/mysql: %w", err)
	}
	if n, _ := r.RowsAffected(); n != 0 {
		return errors.New("sessiongen/mysql: the connection sets clientFoundRows: a create over a live session would look like a new one; open the pool without it")
	}
	return nil
}

// Save implements runtime.Store; a record the server's
// max_allowed_packet would refuse is runtime.ErrTooLarge.
func (s *Store) Save(ctx context.Context, key string, rec []byte, version uint64, expiry time.Time) (uint64, error) {
	if len(rec) > s.packet {
		return 0, fmt.Errorf("sessiongen/mysql: record of %d bytes does not fit the server's max_allowed_packet (%d bytes; a record may take %d): %w",
			len(rec), s.limit, s.packet, runtime.ErrTooLarge)
	}
	return s.Store.Save(ctx, key, rec, version, expiry)
}

// Prune deletes up to 1,000 sessions expired at now and returns how many,
// unless another instance is pruning (then 0): the pruner calls it, and so
// can a job of yours when WithPruneInterval(0).
func (s *Store) Prune(ctx context.Context, now time.Time) (int64, error) {
	c, err := s.db.Conn(ctx) // GET_LOCK belongs to a connection
	if err != nil {
		return 0, fmt.Errorf("sessiongen/mysql: prune: %w", err)
	}
	defer c.Close()
	var mine sql.NullInt64
	if err := c.QueryRowContext(ctx, `SELECT GET_LOCK(?, 0)`, s.lock).Scan(&mine); err != nil || mine.Int64 != 1 {
		return 0, err
	}
	defer c.ExecContext(context.WithoutCancel(ctx), `DO RELEASE_LOCK(?)`, s.lock)
	if s.reports.Any() {
		return s.pruneReporting(ctx, c, now)
	}
	var n int64
	err = conn(s.db).Retry(ctx, func() error { // a deadlock with a create
		r, err := c.ExecContext(ctx, `DELETE FROM `+s.table+` WHERE expires_at <= ? LIMIT ?`, now.UnixMilli(), storekit.PruneBatch)
		if err == nil {
			n, err = r.RowsAffected()
		}
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("sessiongen/mysql: prune: %w", err)
	}
	return n, nil
}

// pruneReporting is Prune when expired sessions are reported: in one
// transaction, it locks the expired rows while it reads them, deletes
// those, and reports them once committed. (MySQL has no DELETE …
// RETURNING; MariaDB's would do.)
func (s *Store) pruneReporting(ctx context.Context, c *sql.Conn, now time.Time) (int64, error) {
	var gone []carry.Removed
	err := conn(s.db).Retry(ctx, func() error { // a deadlock with a create
		tx, err := c.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		rows, err := tx.QueryContext(ctx, "SELECT `key`, data FROM "+s.table+" WHERE expires_at <= ? LIMIT ? FOR UPDATE", now.UnixMilli(), storekit.PruneBatch)
		if err == nil {
			gone, err = sqlstore.ScanRemoved(rows)
		}
		if err != nil {
			return err
		}
		keys := make([]any, len(gone))
		for i, g := range gone {
			keys[i] = g.Key
		}
		if len(keys) > 0 {
			in := strings.Repeat("?, ", len(keys)-1) + "?"
			if _, err := tx.ExecContext(ctx, "DELETE FROM "+s.table+" WHERE `key` IN ("+in+")", keys...); err != nil {
				return err
			}
		}
		return tx.Commit()
	})
	if err != nil {
		return 0, fmt.Errorf("sessiongen/mysql: prune: %w", err)
	}
	s.reports.ReportAll(ctx, gone)
	return int64(len(gone)), nil
}

// DB returns the underlying pool.
func (s *Store) DB() *sql.DB { return s.db }

// Close stops the pruner, and closes the pool New opened (a pool passed
// to NewFromDB stays open).
func (s *Store) Close() error {
	s.pruner.Stop()
	if s.own {
		return s.db.Close()
	}
	return nil
}
