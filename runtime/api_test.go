package runtime_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestRuntimeListsOnlyWhatAUserCalls holds package runtime to the names a
// user writes or reads, as many as the README says: what generated code
// needs lives in runtime/wire.
func TestRuntimeListsOnlyWhatAUserCalls(t *testing.T) {
	fset := token.NewFileSet()
	paths, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	for _, p := range paths {
		if strings.HasSuffix(p, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, p, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	var names []string
	for _, f := range files {
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Recv == nil && d.Name.IsExported() {
					names = append(names, d.Name.Name)
				}
			case *ast.GenDecl:
				for _, s := range d.Specs {
					switch s := s.(type) {
					case *ast.TypeSpec:
						if s.Name.IsExported() {
							names = append(names, s.Name.Name)
						}
					case *ast.ValueSpec:
						for _, n := range s.Names {
							if n.IsExported() {
								names = append(names, n.Name)
							}
						}
					}
				}
			}
		}
	}
	slices.Sort(names)
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`lists only what\s+you write or read \((\d+) names`).FindSubmatch(readme)
	if m == nil {
		t.Fatal("the README no longer says how many names package runtime exports")
	}
	if want, _ := strconv.Atoi(string(m[1])); len(names) != want || len(names) > 42 {
		t.Errorf("package runtime exports %d names, the README says %s (at most 42): %v", len(names), m[1], names)
	}
	for _, n := range names {
		if strings.HasPrefix(n, "Append") || strings.HasPrefix(n, "Read") || slices.Contains([]string{"Schema", "Data", "Session", "Reader", "IntSize", "Skip", "IsNil"}, n) {
			t.Errorf("%s is for generated code: it belongs in runtime/wire", n)
		}
	}
}
