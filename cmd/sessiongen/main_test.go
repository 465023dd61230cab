package main

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

var update = flag.Bool("update", false, "update the testscript files' expected output")

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"sessiongen": main})
}

// TestScripts runs testdata/script/*.txtar. The generator runs the go
// command, so the scripts get the caches of the environment running them.
func TestScripts(t *testing.T) {
	env := map[string]string{}
	for _, k := range []string{"GOCACHE", "GOMODCACHE", "GOROOT", "GOPATH"} {
		out, err := exec.Command("go", "env", k).Output()
		if err != nil {
			t.Fatalf("go env %s: %v", k, err)
		}
		env[k] = strings.TrimSpace(string(out))
	}
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("testdata", "script"),
		UpdateScripts:       *update,
		RequireExplicitExec: true,
		Setup: func(e *testscript.Env) error {
			for k, v := range env {
				e.Setenv(k, v)
			}
			e.Setenv("GOPROXY", "off")
			e.Setenv("GOFLAGS", "-mod=mod")
			return nil
		},
	})
}

func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/p\n\ngo 1.24\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "p.go"), []byte("package p\n\n//sessiongen:session\ntype visitData struct {\n\tID string\n}\n"), 0o644)
	for _, tc := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"-bogus"}, 2, "flag provided but not defined"},
		{[]string{"a", "b"}, 2, "one directory at most"},
		{[]string{"-version"}, 0, ""},
		{[]string{"inspect", "x"}, 2, "cmd/sessiongen-inspect@"},
		{[]string{"-h"}, 0, "usage: sessiongen"},
		{[]string{dir}, 1, "p.go:5:2: field ID needs a method ID"},
		{[]string{filepath.Join(dir, "missing")}, 1, "sessiongen: "},
	} {
		var stdout, stderr bytes.Buffer
		code := run(tc.args, &stdout, &stderr)
		if code != tc.code || !strings.Contains(stderr.String(), tc.out) {
			t.Errorf("sessiongen %q: exit %d, stderr %q; want exit %d and %q", tc.args, code, stderr.String(), tc.code, tc.out)
		}
	}
}
