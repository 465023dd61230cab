package generator

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// bigPackage writes a package of 10 annotated structs of 30 fields each,
// of mixed kinds, and returns its directory.
func bigPackage(tb testing.TB) string {
	dir := tb.TempDir()
	kinds := []string{"int64", "string", "[]string", "map[string]int", "*Item", "[]Item", "time.Time", "bool", "float64", "[16]byte"}
	var b strings.Builder
	b.WriteString("package big\n\nimport \"time\"\n\ntype Item struct {\n\tSKU string\n\tQty int\n}\n")
	for s := range 10 {
		fmt.Fprintf(&b, "\n//sessiongen:session name=S%d\ntype s%dData struct {\n", s, s)
		for f := range 30 {
			fmt.Fprintf(&b, "\tF%d %s `session:\"f%d\"`\n", f, kinds[(f+s)%len(kinds)], f)
		}
		b.WriteString("}\n")
	}
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/big\n\ngo 1.24\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "big.go"), []byte(b.String()), 0o644)
	return dir
}

// BenchmarkLoad is the go/packages load of the 10×30 package: the part
// the go command dominates.
func BenchmarkLoad(b *testing.B) {
	dir := bigPackage(b)
	for range b.N {
		if _, err := load(dir, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGenerate is everything after loading (find, build, render,
// format) for 10 structs × 30 fields.
func BenchmarkGenerate(b *testing.B) {
	pkg, err := load(bigPackage(b), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		files, err := generate(pkg, Config{})
		if err != nil || len(files) != 10 {
			b.Fatalf("%d files, err %v", len(files), err)
		}
	}
}
