package usertest

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/sessiongen/sessiongen/"

// stores are the server-side store packages.
var stores = []string{"runtime/memcache", "runtime/redis", "runtime/postgres", "runtime/sqlite", "runtime/mongo", "runtime/mysql"}

// serverClients are the client modules of the servers stores talk to.
var serverClients = []string{"github.com/redis/go-redis", "github.com/jackc/pgx", "modernc.org/sqlite", "go.mongodb.org/mongo-driver", "github.com/bradfitz/gomemcache", "github.com/go-sql-driver/mysql"}

// deps lists every package pkg links (go list -deps), itself included.
func deps(t *testing.T, pkg string) []string {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", module+pkg)
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	return strings.Fields(string(out))
}

// TestImportRules holds the import rules of ARCHITECTURE.md: the
// generator links no runtime package but wire and what is below it (the
// msgpack primitives and the typed table); the runtime links no
// store, no test helper and no server's client; no store links another;
// nothing under runtime/ that a user's binary links imports internal/
// at the root.
func TestImportRules(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	for _, d := range deps(t, "generator") {
		switch strings.TrimPrefix(d, module) {
		case "runtime/wire", "runtime/internal/mp", "runtime/internal/typed":
			continue
		}
		if strings.HasPrefix(d, module+"runtime") {
			t.Errorf("generator links %s: it may link runtime/wire (and what is below it) only", d)
		}
	}
	userLinked := append([]string{"runtime", "runtime/wire", "runtime/cookiestore"}, stores...)
	for _, pkg := range userLinked {
		for _, d := range deps(t, pkg) {
			if strings.HasPrefix(d, module+"internal/") {
				t.Errorf("%s links the test helper %s: code a user's binary links lives under runtime/", pkg, d)
			}
			if pkg == "runtime" {
				for _, s := range append(stores, "runtime/cookiestore", "runtime/storetest") {
					if d == module+s {
						t.Errorf("runtime links %s", s)
					}
				}
				for _, c := range serverClients {
					if strings.HasPrefix(d, c) {
						t.Errorf("runtime links the client %s", d)
					}
				}
			}
		}
	}
	for _, s := range stores {
		for _, d := range deps(t, s) {
			for _, other := range stores {
				if other != s && d == module+other {
					t.Errorf("%s links %s: no store links another", s, other)
				}
			}
		}
	}
}
