// Package usertest checks what a user of the module meets, from the user's
// side, in scratch modules: the README's tour builds as pasted, and importing a store
// brings its client library into the user's go.mod and importing none
// brings none.
package usertest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// clients are the store client modules, by the store package that needs them.
var clients = map[string]string{
	"runtime/redis":    "github.com/redis/go-redis",
	"runtime/postgres": "github.com/jackc/pgx",
	"runtime/sqlite":   "modernc.org/sqlite",
	"runtime/mongo":    "go.mongodb.org/mongo-driver",
	"runtime/mysql":    "github.com/go-sql-driver/mysql",
	// Telemetry is a client too: OpenTelemetry comes with otelsession only.
	"runtime/otelsession": "go.opentelemetry.io/otel",
}

// TestUsersGetOnlyTheirStoresDependencies builds scratch modules that
// require sessiongen (replaced by this checkout) and import some of its
// packages, runs go mod tidy, and reads which store clients their go.mod
// lists.
func TestUsersGetOnlyTheirStoresDependencies(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	for _, imports := range [][]string{
		{"runtime", "runtime/memcache"},
		{"runtime", "runtime/redis"},
		{"runtime", "runtime/postgres"},
		{"runtime", "runtime/sqlite"},
		{"runtime", "runtime/mongo"},
		{"runtime", "runtime/mysql"},
		{"runtime", "runtime/cookiestore"},
		{"runtime", "runtime/otelsession"},
		// go tool sessiongen, the generator, brings no store client either:
		// that is why the inspector, which opens every store, is a command
		// of its own.
		{"runtime", "tool:cmd/sessiongen"},
	} {
		dir := t.TempDir()
		var src strings.Builder
		src.WriteString("package main\n\nimport (\n")
		tools := ""
		for _, p := range imports {
			if tool, ok := strings.CutPrefix(p, "tool:"); ok {
				tools += "\ntool github.com/sessiongen/sessiongen/" + tool + "\n"
				continue
			}
			src.WriteString("\t_ \"github.com/sessiongen/sessiongen/" + p + "\"\n")
		}
		src.WriteString(")\n\nfunc main() {}\n")
		mod := "module scratch\n\ngo 1.25.0\n\nrequire github.com/sessiongen/sessiongen v0.0.0\n\nreplace github.com/sessiongen/sessiongen => " + root + "\n" + tools
		os.WriteFile(filepath.Join(dir, "go.mod"), []byte(mod), 0o644)
		os.WriteFile(filepath.Join(dir, "main.go"), []byte(src.String()), 0o644)
		cmd := exec.Command(gobin, "mod", "tidy")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go mod tidy with %v: %v\n%s", imports, err, out)
		}
		got, _ := os.ReadFile(filepath.Join(dir, "go.mod"))
		// The cookie store's cryptography comes with the cookie store only.
		if imports[len(imports)-1] == "runtime/memcache" && strings.Contains(string(got), "golang.org/x/crypto") {
			t.Errorf("importing %v: go.mod lists golang.org/x/crypto\n%s", imports, got)
		}
		for pkg, client := range clients {
			want := imports[len(imports)-1] == pkg
			if has := strings.Contains(string(got), client); has != want {
				t.Errorf("importing %v: go.mod lists %s: %v, want %v\n%s", imports, client, has, want, got)
			}
		}
	}
}
