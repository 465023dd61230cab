package servers

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// mongoHint is how to get the binary.
const mongoHint = "scripts/ferretdb.sh builds it into ~/.cache/sessiongen; set SESSIONGEN_FERRETDB to its path"

// MongoServer is a FerretDB process a test started.
type MongoServer struct {
	*Process
	tb testing.TB
}

// StartFerretDB starts FerretDB with its SQLite backend in a temporary directory.
// Without the binary the test is skipped, or fails when
// SESSIONGEN_REQUIRE_MONGO=1.
func StartFerretDB(tb testing.TB) *MongoServer {
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
			tb.Fatalf("FerretDB is not built (%s), and SESSIONGEN_REQUIRE_MONGO=1", mongoHint)
		}
		tb.Skipf("FerretDB is not built: %s (or run scripts/test.sh, which builds it)", mongoHint)
	}
	dir := tb.TempDir()
	debug, err := FreePort()
	if err != nil {
		tb.Fatal(err)
	}
	p := StartProcess(tb, ProcessConfig{
		Name: "ferretdb",
		Dir:  dir,
		Args: func(port int) []string {
			return []string{bin, "--handler=sqlite", "--sqlite-url=file:" + dir + "/",
				"--listen-addr=127.0.0.1:" + strconv.Itoa(port), "--debug-addr=127.0.0.1:" + strconv.Itoa(debug),
				"--state-dir=" + dir, "--telemetry=disable", "--log-level=warn"}
		},
		Ready: func(addr string) bool { return pingMongo("mongodb://" + addr + "/") },
	})
	return &MongoServer{Process: p, tb: tb}
}

// URI is the server's mongodb:// URI with a database.
func (s *MongoServer) URI(db string) string { return fmt.Sprintf("mongodb://%s/%s", s.Addr, db) }

// Client returns a plain client for raw operations, disconnected when the
// test ends.
func (s *MongoServer) Client() *mongo.Client {
	c, err := mongo.Connect(options.Client().ApplyURI("mongodb://" + s.Addr + "/"))
	if err != nil {
		s.tb.Fatal(err)
	}
	s.tb.Cleanup(func() { c.Disconnect(context.Background()) })
	return c
}

func pingMongo(uri string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	c, err := mongo.Connect(options.Client().ApplyURI(uri).SetServerSelectionTimeout(400 * time.Millisecond))
	if err != nil {
		return false
	}
	defer c.Disconnect(ctx)
	return c.Ping(ctx, nil) == nil
}
