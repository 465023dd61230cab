package usertest

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestREADMETourBuilds pastes the tour's files from README.md (the Go
// blocks that start with a "// path.go" line) into a scratch module, runs
// go generate as a user would, and builds and vets the result.
func TestREADMETourBuilds(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files := 0
	for _, m := range regexp.MustCompile("(?s)```go\n// ([a-z/_]+\\.go)\n(.*?)```").FindAllStringSubmatch(string(readme), -1) {
		path := filepath.Join(dir, m[1])
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, []byte(m[2]), 0o644); err != nil {
			t.Fatal(err)
		}
		files++
	}
	if files != 2 {
		t.Fatalf("found %d tour files in README.md, want 2 (shop/session.go, main.go)", files)
	}
	mod := "module example.com/app\n\ngo 1.25.0\n\nrequire github.com/sessiongen/sessiongen v0.0.0\n\nreplace github.com/sessiongen/sessiongen => " + root + "\n\ntool github.com/sessiongen/sessiongen/cmd/sessiongen\n"
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte(mod), 0o644)
	for _, args := range [][]string{{"mod", "tidy"}, {"generate", "./..."}, {"build", "./..."}, {"vet", "./..."}} {
		cmd := exec.Command(gobin, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %s in the pasted tour: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "shop", "visit_session.go")); err != nil {
		t.Fatalf("go generate wrote no shop/visit_session.go: %v", err)
	}
}
