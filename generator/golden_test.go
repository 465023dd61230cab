package generator

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/diff"
)

var update = flag.Bool("update", false, "rewrite the golden files in ../testdata")

// goldenCases are the packages under ../testdata with sessions in them.
var goldenCases = []string{"alltypes", "multi", "evolve/v1", "evolve/v2"}

func TestGolden(t *testing.T) {
	for _, c := range goldenCases {
		t.Run(c, func(t *testing.T) {
			files, err := Generate(Config{Dir: filepath.Join("..", "testdata", c)})
			if err != nil {
				t.Fatal(err)
			}
			if len(files) == 0 {
				t.Fatal("no files generated")
			}
			for _, f := range files {
				if *update {
					if err := os.WriteFile(f.Path, f.Src, 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				want, err := os.ReadFile(f.Path)
				if err != nil {
					t.Fatalf("%v (run go test ./generator -update)", err)
				}
				if !bytes.Equal(f.Src, want) {
					t.Errorf("%s is stale (run go test ./generator -update):\n%s", f.Path, diff.Diff("want", want, "got", f.Src))
				}
			}
		})
	}
}

func TestDeterministic(t *testing.T) {
	dir := filepath.Join("..", "testdata", "alltypes")
	first, err := Generate(Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		again, err := Generate(Config{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(first[0].Src, again[0].Src) {
			t.Fatal("two runs generated different bytes")
		}
	}
}

// TestStalenessGuard changes the struct after generation and checks that
// the package stops compiling, and that regenerating fixes it.
func TestStalenessGuard(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module with the go command")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed: %v", err)
	}
	root, _ := filepath.Abs("..")
	dir := t.TempDir()
	mod := "module example.com/stale\n\ngo 1.24.0\n\nrequire github.com/sessiongen/sessiongen v0.0.0\n\nreplace github.com/sessiongen/sessiongen => " + root + "\n"
	src := "package stale\n\n//sessiongen:session\ntype visitData struct {\n\tUserID int64\n}\n"
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", mod)
	write("visit.go", src)
	sum, _ := os.ReadFile(filepath.Join(root, "go.sum"))
	write("go.sum", string(sum))
	gen := func() {
		t.Helper()
		files, err := Generate(Config{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		if err := Write(files); err != nil {
			t.Fatal(err)
		}
	}
	build := func() (string, error) {
		cmd := exec.Command(gobin, "build", "./...")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	gen()
	if out, err := build(); err != nil {
		t.Fatalf("fresh generated code does not build: %v\n%s", err, out)
	}
	write("visit.go", strings.Replace(src, "UserID int64", "UserID int64\n\tEmail string", 1))
	out, err := build()
	if err == nil || !strings.Contains(out, "cannot convert") || !strings.Contains(out, "_visitData_changed__run_go_generate") {
		t.Fatalf("stale generated code built (err %v):\n%s", err, out)
	}
	gen() // a stale file must not stop regeneration
	if out, err := build(); err != nil {
		t.Fatalf("regenerated code does not build: %v\n%s", err, out)
	}
}
