package mysql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"

	"github.com/go-sql-driver/mysql"
	"github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/internal/neterr"
	"github.com/sessiongen/sessiongen/runtime/internal/sqlstore"
	"github.com/sessiongen/sessiongen/runtime/internal/storekit"
)

// open opens a pool on dsn, a mysql:// URL or the driver's DSN, with the
// settings the store relies on; the driver's messages go to log.
func open(dsn string, log *slog.Logger) (*sql.DB, error) {
	cfg, err := parse(dsn)
	if err != nil {
		return nil, err
	}
	cfg.Logger = driverLog{log}
	cfg.InterpolateParams = true
	cfg.ClientFoundRows = false
	// The server's max_allowed_packet, read at connect: a statement
	// whose record, escaped, would not fit goes as a prepared statement,
	// the record unescaped.
	cfg.MaxAllowedPacket = 0
	c, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(c)
	// database/sql keeps 2 idle connections by default: under load the
	// rest would be opened and closed on every request.
	db.SetMaxOpenConns(64)
	db.SetMaxIdleConns(64)
	return db, nil
}

// driverLog passes the driver's messages (a closed idle connection it
// replaced, say) to the store's logger, at debug level: what they report
// the driver has handled.
type driverLog struct{ l *slog.Logger }

func (d driverLog) Print(v ...any) { d.l.Debug("sessiongen/mysql: driver: " + fmt.Sprint(v...)) }

// parse reads a mysql://user:password@host:port/db?param=value URL, or
// the driver's own DSN.
func parse(dsn string) (*mysql.Config, error) {
	if !strings.HasPrefix(dsn, "mysql://") {
		return mysql.ParseDSN(dsn)
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return nil, err
	}
	if u.Host == "" {
		return nil, errors.New("mysql:// URL without a host")
	}
	// The driver's DSN, from the URL's parts, keeps its parameters.
	c := mysql.NewConfig()
	c.User = u.User.Username()
	c.Passwd, _ = u.User.Password()
	c.Net = "tcp"
	c.Addr = u.Host
	if u.Port() == "" {
		c.Addr = net.JoinHostPort(u.Hostname(), "3306")
	}
	c.DBName = strings.TrimPrefix(u.Path, "/")
	d := c.FormatDSN()
	if u.RawQuery != "" {
		sep := "?"
		if strings.Contains(d, "?") {
			sep = "&"
		}
		d += sep + u.RawQuery
	}
	return mysql.ParseDSN(d)
}

// lockRetries is how many times a statement the server rolled back for
// a deadlock (1213) or a lock wait timeout (1205), having done nothing, is
// sent again; a test sets it to 0 to show the deadlocks.
var lockRetries = 8

// conn is the store's way to the server.
func conn(db *sql.DB) *sqlstore.SQLDB {
	return &sqlstore.SQLDB{Reads: db, Writes: db, Again: rolledBack, Attempts: 1 + lockRetries}
}

// rolledBack reports whether the server rolled the statement back on a
// lock conflict: a deadlock, or a lock wait timeout.
func rolledBack(err error) bool {
	var e *mysql.MySQLError
	return errors.As(err, &e) && (e.Number == 1213 || e.Number == 1205)
}

// classify: an error the server answered (the statement failed as a
// whole), a failed dial and a connection database/sql found bad before
// using it mean nothing was written; a write that failed any other way
// (a timeout, a connection lost mid-statement) has an unknown outcome.
func classify(err error, write bool) error {
	if errors.Is(err, context.Canceled) {
		return err // the request went away
	}
	var e *mysql.MySQLError
	if errors.As(err, &e) && e.Number == 1153 { // over max_allowed_packet
		return fmt.Errorf("%w (the server's max_allowed_packet): %w", err, runtime.ErrTooLarge)
	}
	sure := errors.As(err, &e) || neterr.Dial(err) || errors.Is(err, driver.ErrBadConn)
	return storekit.Failure(err, write, sure)
}
