// Package mongotest starts a FerretDB server (MongoDB's wire protocol,
// SQLite underneath) for tests, on a free loopback port, stopped by its
// pid when the test ends. scripts/ferretdb.sh builds the binary (from the
// Go module proxy, with its write commands made atomic) and the test
// command passes its path in SESSIONGEN_FERRETDB.
package mongotest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/sessiongen/sessiongen/internal/servertest"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// InstallHint is how to get the binary.
const InstallHint = "scripts/ferretdb.sh builds it into ~/.cache/sessiongen; set SESSIONGEN_FERRETDB to its path"

// Server is a FerretDB process a test started.
type Server struct {
	*servertest.Process
	tb testing.TB
}

// Start starts FerretDB with its SQLite backend in a temporary directory.
// Without the binary the test is skipped, or fails when
// SESSIONGEN_REQUIRE_MONGO=1.
func Start(tb testing.TB) *Server {
	tb.Helper()
	bin := os.Getenv("SESSIONGEN_FERRETDB")
	if bin == "" {
		home, _ := os.UserHomeDir()
		cache := os.Getenv("XDG_CACHE_HOME")
		if cache == "" {
			cache = filepath.Join(home, ".cache")
		}
		bin = filepath.Join(cache, "sessiongen", "ferretdb-v1.24.2-serialized", "ferretdb")
	}
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("SESSIONGEN_REQUIRE_MONGO") == "1" {
			tb.Fatalf("FerretDB is not built (%s), and SESSIONGEN_REQUIRE_MONGO=1", InstallHint)
		}
		tb.Skipf("FerretDB is not built: %s (or run scripts/test.sh, which builds it)", InstallHint)
	}
	dir := tb.TempDir()
	debug, err := servertest.FreePort()
	if err != nil {
		tb.Fatal(err)
	}
	p := servertest.Start(tb, servertest.Config{
		Name: "ferretdb",
		Dir:  dir,
		Args: func(port int) []string {
			return []string{bin, "--handler=sqlite", "--sqlite-url=file:" + dir + "/",
				"--listen-addr=127.0.0.1:" + strconv.Itoa(port), "--debug-addr=127.0.0.1:" + strconv.Itoa(debug),
				"--state-dir=" + dir, "--telemetry=disable", "--log-level=warn"}
		},
		Ready: func(addr string) bool { return ping("mongodb://" + addr + "/") },
	})
	return &Server{Process: p, tb: tb}
}

// URI is the server's mongodb:// URI with a database.
func (s *Server) URI(db string) string { return fmt.Sprintf("mongodb://%s/%s", s.Addr, db) }

// Client returns a plain client for raw operations, disconnected when the
// test ends.
func (s *Server) Client() *mongo.Client {
	c, err := mongo.Connect(options.Client().ApplyURI("mongodb://" + s.Addr + "/"))
	if err != nil {
		s.tb.Fatal(err)
	}
	s.tb.Cleanup(func() { c.Disconnect(context.Background()) })
	return c
}

func ping(uri string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	c, err := mongo.Connect(options.Client().ApplyURI(uri).SetServerSelectionTimeout(400 * time.Millisecond))
	if err != nil {
		return false
	}
	defer c.Disconnect(ctx)
	return c.Ping(ctx, nil) == nil
}
