package servers

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// postgresHint is how to get the server on Debian and Ubuntu.
const postgresHint = "apt-get install postgresql"

// PostgresServer is a PostgreSQL cluster a test started.
type PostgresServer struct {
	*Process
	tb testing.TB
}

// StartPostgres creates a cluster and starts its server, with extra
// settings as name=value (shared_preload_libraries=pg_stat_statements).
// Without PostgreSQL the test is skipped, or fails when
// SESSIONGEN_REQUIRE_POSTGRES=1.
func StartPostgres(tb testing.TB, settings ...string) *PostgresServer {
	tb.Helper()
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	initdb := Binary(tb, "initdb", "SESSIONGEN_REQUIRE_POSTGRES", postgresHint, dirs...)
	postgres := Binary(tb, "postgres", "SESSIONGEN_REQUIRE_POSTGRES", postgresHint, filepath.Dir(initdb))
	root, err := os.MkdirTemp("", "sessiongen-pg-")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(root) })
	data := filepath.Join(root, "data")
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		cred = unprivileged(tb, "postgres")
		os.Chmod(root, 0o755)
		if err := os.Mkdir(data, 0o700); err != nil {
			tb.Fatal(err)
		}
		os.Chown(data, int(cred.Uid), int(cred.Gid))
	}
	cmd := exec.Command(initdb, "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync", "--no-instructions")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("initdb: %v\n%s", err, out)
	}
	p := StartProcess(tb, ProcessConfig{
		Name: "postgres",
		Dir:  root,
		Args: func(port int) []string {
			args := []string{postgres, "-D", data, "-p", strconv.Itoa(port), "-h", "127.0.0.1", "-k", data,
				"-c", "fsync=off", "-c", "full_page_writes=off", "-c", "max_connections=200", "-c", "log_min_messages=warning"}
			for _, s := range settings {
				args = append(args, "-c", s)
			}
			return args
		},
		Ready:      func(addr string) bool { return pingPostgres(dsn(addr)) },
		Credential: cred,
		Kill:       syscall.SIGQUIT, // immediate shutdown: no checkpoint, crash recovery at the next start
	})
	return &PostgresServer{Process: p, tb: tb}
}

// DSN is the server's connection string.
func (s *PostgresServer) DSN() string { return dsn(s.Addr) }

func dsn(addr string) string {
	return fmt.Sprintf("postgres://postgres@%s/postgres?sslmode=disable", addr)
}

// Conn returns a plain connection for raw statements, closed when the
// test ends.
func (s *PostgresServer) Conn() *pgx.Conn {
	s.tb.Helper()
	c, err := pgx.Connect(context.Background(), s.DSN())
	if err != nil {
		s.tb.Fatal(err)
	}
	s.tb.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func pingPostgres(dsn string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return false
	}
	c.Close(ctx)
	return true
}

// unprivileged returns the user to run a server as when the test runs as
// root: the one its package created (postgres, mysql), else nobody.
func unprivileged(tb testing.TB, own string) *syscall.Credential {
	for _, name := range []string{own, "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	tb.Fatalf("running as root, and neither a %s nor a nobody user exists to run the server as", own)
	return nil
}
