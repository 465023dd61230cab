package usertest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestREADMETourBuilds pastes the tour's files from README.md (the Go
// blocks that start with a "// path.go" line) into a scratch module, runs
// go generate as a user would, and builds and vets the result, with every
// other Go block of README.md and docs/*.md compiled beside it (see
// writeSnippets).
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
	snippets := writeSnippets(t, root, dir)
	t.Logf("%d code blocks of README.md and docs/ compiled besides the tour", snippets)
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

// givens declares what the snippets of the docs take as given, and
// givenImports what it names.
const givens = `
var (
	ctx                  context.Context
	t                    *testing.T
	secrets              [][]byte
	store                runtime.Store
	timeout              time.Duration
	v                    *shop.Visit
	sku                  string
	yourGomemcacheClient *gomemcache.Client
	yourPgxPool          *pgxpool.Pool
	yourClient           *mongodriver.Client
)

func newMyStore(*testing.T) runtime.Store { return nil }
func stopServer()                          {}
func startServer()                         {}
func restartServer()                       {}
func pauseServer()                         {}
func resumeServer()                        {}
func putRaw(key string, rec []byte)        {}
`

var givenImports = map[string]string{
	"context": "context", "testing": "testing", "time": "time", "runtime": "github.com/sessiongen/sessiongen/runtime",
	"shop": "example.com/app/shop", "gomemcache": "github.com/bradfitz/gomemcache/memcache",
	"pgxpool": "github.com/jackc/pgx/v5/pgxpool", "mongodriver": "go.mongodb.org/mongo-driver/v2/mongo",
}

// snippetImports are the other packages a snippet may name, by name.
var snippetImports = map[string]string{
	"memcache": "github.com/sessiongen/sessiongen/runtime/memcache", "redis": "github.com/sessiongen/sessiongen/runtime/redis",
	"postgres": "github.com/sessiongen/sessiongen/runtime/postgres", "mongo": "github.com/sessiongen/sessiongen/runtime/mongo",
	"mysql": "github.com/sessiongen/sessiongen/runtime/mysql", "slog": "log/slog",
	"sqlite": "github.com/sessiongen/sessiongen/runtime/sqlite", "cookiestore": "github.com/sessiongen/sessiongen/runtime/cookiestore",
	"storetest": "github.com/sessiongen/sessiongen/runtime/storetest", "goredis": "github.com/redis/go-redis/v9",
	"otelsession": "github.com/sessiongen/sessiongen/runtime/otelsession", "os": "os",
}

// writeSnippets writes every Go block of README.md and docs/*.md that is
// not a tour file into a package of its own under dir/snippets: a block
// of declarations as it is, a block of statements as the body of a
// function, with the names it takes as given declared (givens) and the
// packages it names (outside comments) imported; it returns how many it
// wrote. A block that is no Go, or calls what does not exist, fails the
// build.
func writeSnippets(t *testing.T, root, dir string) int {
	docs, _ := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	comment := regexp.MustCompile(`//.*`)
	n := 0
	for _, doc := range append([]string{filepath.Join(root, "README.md")}, docs...) {
		text, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile("(?s)```go\n(.*?)```").FindAllStringSubmatch(string(text), -1) {
			block := m[1]
			if regexp.MustCompile(`^// [a-z/_]+\.go\n`).MatchString(block) {
				continue // a tour file
			}
			n++
			body := block
			if !regexp.MustCompile(`^(type|func|var|const|//sessiongen)`).MatchString(block) {
				var uses []string
				for _, d := range regexp.MustCompile(`(?m)^\s*(\w+(?:, \w+)*) :=`).FindAllStringSubmatch(block, -1) {
					for _, name := range strings.Split(d[1], ", ") {
						uses = append(uses, "\t_ = "+name)
					}
				}
				body = "func _() {\n" + block + strings.Join(uses, "\n") + "\n}\n"
			}
			var src strings.Builder
			fmt.Fprintf(&src, "package snippet%d\n\nimport (\n", n)
			for name, path := range givenImports {
				fmt.Fprintf(&src, "\t%s %q\n", name, path)
			}
			code := comment.ReplaceAllString(body, "")
			for name, path := range snippetImports {
				if regexp.MustCompile(`\b` + name + `\.`).MatchString(code) {
					fmt.Fprintf(&src, "\t%s %q\n", name, path)
				}
			}
			src.WriteString(")\n\n" + body + givens)
			pkg := filepath.Join(dir, "snippets", fmt.Sprint(n))
			os.MkdirAll(pkg, 0o755)
			if err := os.WriteFile(filepath.Join(pkg, "snippet.go"), []byte(src.String()), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return n
}
