package servers

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// mysqlHint is how to get the server on Debian and Ubuntu.
const mysqlHint = "apt-get install mariadb-server"

// MySQLServer is a MariaDB server a test started.
type MySQLServer struct {
	*Process
	tb testing.TB
}

// MySQLDatabase is the database the server starts with.
const MySQLDatabase = "sessiongen"

// StartMySQL starts a MariaDB server on a data directory of its own (a
// copy of one mariadb-install-db made once), run as an
// unprivileged user when the test runs as root, with the extra server
// options given (--max-allowed-packet=1M). Without MariaDB the test is
// skipped, or fails when SESSIONGEN_REQUIRE_MYSQL=1.
func StartMySQL(tb testing.TB, options ...string) *MySQLServer {
	tb.Helper()
	mariadbd := Binary(tb, "mariadbd", "SESSIONGEN_REQUIRE_MYSQL", mysqlHint, "/usr/sbin")
	root, err := os.MkdirTemp("", "sessiongen-mysql-")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(root) })
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		cred = unprivileged(tb, "mysql")
		os.Chmod(root, 0o755)
	}
	data := filepath.Join(root, "data")
	if out, err := exec.Command("cp", "-a", mysqlTemplate(tb, mariadbd, cred), data).CombinedOutput(); err != nil {
		tb.Fatalf("copying the data directory: %v\n%s", err, out)
	}
	p := StartProcess(tb, ProcessConfig{
		Name: "mariadbd",
		Dir:  root,
		Args: func(port int) []string {
			return append([]string{mariadbd, "--no-defaults", "--datadir=" + data, "--port=" + strconv.Itoa(port),
				"--bind-address=127.0.0.1", "--socket=" + filepath.Join(data, "sock"), "--pid-file=" + filepath.Join(data, "pid"),
				"--innodb-buffer-pool-size=32M", "--innodb-log-file-size=8M", "--innodb-flush-log-at-trx-commit=2",
				"--skip-log-bin", "--max-connections=300", "--log-warnings=1"}, options...)
		},
		Ready:      func(addr string) bool { return pingMySQL(addr) },
		Credential: cred,
	})
	return &MySQLServer{Process: p, tb: tb}
}

var template struct {
	once sync.Once
	dir  string
	err  error
}

// mysqlTemplate returns a data directory mariadb-install-db made, with
// the test database: made once per installed server and kept in the
// temporary directory (copying it takes a tenth of what making it does).
func mysqlTemplate(tb testing.TB, mariadbd string, cred *syscall.Credential) string {
	tb.Helper()
	template.once.Do(func() {
		template.dir, template.err = makeTemplate(tb, mariadbd, cred)
	})
	if template.err != nil {
		tb.Fatal(template.err)
	}
	return template.dir
}

func makeTemplate(tb testing.TB, mariadbd string, cred *syscall.Credential) (string, error) {
	fi, err := os.Stat(mariadbd)
	if err != nil {
		return "", err
	}
	final := filepath.Join(os.TempDir(), fmt.Sprintf("sessiongen-mariadb-%d-%x", os.Geteuid(), fi.ModTime().UnixNano()^fi.Size()))
	if _, err := os.Stat(filepath.Join(final, "data", MySQLDatabase)); err == nil {
		return filepath.Join(final, "data"), nil
	}
	installDB := Binary(tb, "mariadb-install-db", "SESSIONGEN_REQUIRE_MYSQL", mysqlHint)
	dir, err := os.MkdirTemp("", "sessiongen-mariadb-new-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir) // left only if the rename below failed
	os.Chmod(dir, 0o755)
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		return "", err
	}
	if cred != nil {
		os.Chown(data, int(cred.Uid), int(cred.Gid))
	}
	cmd := exec.Command(installDB, "--no-defaults", "--datadir="+data, "--auth-root-authentication-method=normal",
		"--skip-test-db", "--innodb-log-file-size=8M", "--innodb-buffer-pool-size=16M")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("mariadb-install-db: %v\n%s", err, out)
	}
	// The test database: to MariaDB, a directory in its data directory.
	if err := os.Mkdir(filepath.Join(data, MySQLDatabase), 0o700); err != nil {
		return "", err
	}
	if cred != nil {
		os.Chown(filepath.Join(data, MySQLDatabase), int(cred.Uid), int(cred.Gid))
	}
	// Another test binary may have made it meanwhile: either is good.
	if err := os.Rename(dir, final); err != nil {
		if _, statErr := os.Stat(filepath.Join(final, "data", MySQLDatabase)); statErr != nil {
			return "", err
		}
	}
	return filepath.Join(final, "data"), nil
}

// DSN is the driver's DSN of the test database.
func (s *MySQLServer) DSN() string { return mysqlDSN(s.Addr) }

// URL is the mysql:// URL of the test database.
func (s *MySQLServer) URL() string { return "mysql://root@" + s.Addr + "/" + MySQLDatabase }

func mysqlDSN(addr string) string { return "root@tcp(" + addr + ")/" + MySQLDatabase }

// DB returns a pool of plain connections for raw statements, closed when
// the test ends.
func (s *MySQLServer) DB() *sql.DB {
	s.tb.Helper()
	db, err := sql.Open("mysql", s.DSN())
	if err != nil {
		s.tb.Fatal(err)
	}
	s.tb.Cleanup(func() { db.Close() })
	return db
}

func pingMySQL(addr string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	cfg, err := mysql.ParseDSN(mysqlDSN(addr))
	if err != nil {
		return false
	}
	c, err := mysql.NewConnector(cfg)
	if err != nil {
		return false
	}
	db := sql.OpenDB(c)
	defer db.Close()
	return db.PingContext(ctx) == nil
}
