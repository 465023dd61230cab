package generator

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// generateSource writes src as the only file of a throwaway module and
// generates for it.
func generateSource(t *testing.T, src string) ([]File, error) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/p\n\ngo 1.24\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "p.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return Generate(Config{Dir: dir})
}

func TestErrorsArePositionedAndComplete(t *testing.T) {
	src := `package p

import "unsafe"

//sessiongen:session
type visitData struct {
	ID     string
	A      int    ` + "`session:\"k\"`" + `
	B      int    ` + "`session:\"k\"`" + `
	C      int    ` + "`session:\"c,sticky\"`" + `
	Ch     chan int
	Any    any
	F      func()
	U      unsafe.Pointer
	Arr    [4]chan int
	Anon   struct{ X int }
	MK     map[float64]int
	Cx     complex128
}

//sessiongen:session color=blue
type otherData struct{ X int }

//sessiongen:session
type Plain struct{ X int }

//sessiongen:session
type notStruct int
`
	_, err := generateSource(t, src)
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("err %v, want an ErrorList", err)
	}
	want := []string{
		`p.go:7:2: field ID needs a method ID, which collides with generated method Visit.ID`,
		`p.go:9:16: key "k" is used by both A and B`,
		`p.go:10:16: unknown option "sticky"`,
		`p.go:11:2: field Ch has type chan int`,
		`p.go:12:2: field Any has interface type any`,
		`p.go:13:2: field F has type func()`,
		`p.go:14:2: field U has type unsafe.Pointer`,
		`p.go:15:2: field Arr has type chan int, which cannot be stored`,
		`p.go:16:2: field Anon has an anonymous struct type`,
		`p.go:17:2: field MK has map type map[float64]int: map keys must be strings or integers`,
		`p.go:18:2: field Cx has type complex128`,
		`p.go:21:1: unknown argument "color=blue"`,
		`p.go:24:1: cannot derive a session name from Plain: add name=X`,
		`p.go:27:1: notStruct is not a struct type`,
	}
	got := make([]string, len(list))
	for i, e := range list {
		got[i] = strings.TrimPrefix(e.Error(), filepath.Dir(e.Pos.Filename)+string(filepath.Separator))
	}
	if len(got) != len(want) {
		t.Errorf("got %d errors, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i := range min(len(got), len(want)) {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("error %d:\n got %s\nwant %s…", i, got[i], want[i])
		}
	}
}

func TestNoAnnotatedStruct(t *testing.T) {
	_, err := generateSource(t, "package p\n\ntype x struct{}\n")
	if err == nil || !strings.Contains(err.Error(), "//sessiongen:session") {
		t.Fatalf("err %v", err)
	}
}

func TestSyntaxErrorsStopGeneration(t *testing.T) {
	_, err := generateSource(t, "package p\n\n//sessiongen:session\ntype visitData struct {\n")
	if err == nil || !strings.Contains(err.Error(), "p.go:") {
		t.Fatalf("err %v, want a positioned syntax error", err)
	}
}

func TestTypeErrorInsideTheStructIsReported(t *testing.T) {
	_, err := generateSource(t, "package p\n\n//sessiongen:session\ntype visitData struct {\n\tX Missing\n}\n")
	if err == nil || !strings.Contains(err.Error(), "p.go:5:4: undefined: Missing") {
		t.Fatalf("err %v", err)
	}
}

func TestTypeErrorsElsewhereDoNotStopGeneration(t *testing.T) {
	// The package already uses what this run generates.
	files, err := generateSource(t, "package p\n\n//sessiongen:session\ntype visitData struct{ X int }\n\nvar _ = NewVisitManager\n")
	if err != nil || len(files) != 1 {
		t.Fatalf("files %d, err %v", len(files), err)
	}
}

func TestRefusalsWithHelp(t *testing.T) {
	src := `package p

import "sync"

type Base struct{ X int }

type S struct{ N int }

//sessiongen:session
type visitData struct {
	*Base
	Mu    sync.Mutex
	F     S      ` + "`session:\"f,flash\"`" + `
	M     string ` + "`session:\"m,max=zero\"`" + `
	Big   int    ` + "`session:\"big,max=9\"`" + `
}
`
	_, err := generateSource(t, src)
	for _, want := range []string{
		"p.go:11:3: embedded field Base is a pointer: embed the struct by value",
		"p.go:12:2: sync.Mutex has unexported fields, which would not be stored: it needs MarshalBinary",
		"p.go:13:15: omitempty and flash need a zero test, which F of type S lacks",
		"p.go:14:15: max=zero of M: max= takes a positive length",
		"p.go:15:15: max= on Big of type int: it bounds strings, slices and maps only",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing error %q in:\n%v", want, err)
		}
	}
}

func TestSelfCodedAndPromotedFields(t *testing.T) {
	src := `package p

import "net/netip"

type Meta struct{ Version int ` + "`session:\"ver\"`" + ` }

//sessiongen:session
type visitData struct {
	Meta
	Addr netip.Addr
	ID16 [16]byte
}
`
	files, err := generateSource(t, src)
	if err != nil {
		t.Fatal(err)
	}
	out := string(files[0].Src)
	for _, want := range []string{
		"func (s *Visit) Version() int",
		`wire.AppendInt(append(b, "\xa3ver"...), int64(s.data.Meta.Version))`,
		"wire.AppendBinary(append(b, \"\\xa4Addr\"...), &s.data.Addr)",
		"wire.DecodeBinary(b, i, &s.data.Addr)",
		"wire.ReadByteArray(b, i, v[:])",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("generated code lacks %q", want)
		}
	}
}

func TestRecursiveAndGenericTypes(t *testing.T) {
	src := `package p

type Bad struct{ B Bad }

type Tree []Tree

type Pair[T any] struct{ A, B T }

//sessiongen:session name=Visit
type visitData struct {
	X Bad
	T Tree
	P Pair[int]
}

//sessiongen:session name=Gen
type genData[T any] struct{ V T }
`
	_, err := generateSource(t, src)
	for _, want := range []string{
		"p.go:11:2: field X has type Bad, which does not type-check",
		"p.go:13:2: field P has generic type Pair[int]: instantiated generic types are not supported yet",
		"p.go:16:1: genData is generic",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	if err != nil && strings.Contains(err.Error(), "field T") {
		t.Errorf("the recursive slice type Tree was refused: %v", err)
	}
}

// TestOwnerTagErrors: one owner per session, of a type that can name a
// user, on the session's own fields; each refusal names file:line:col.
func TestOwnerTagErrors(t *testing.T) {
	src := `package p

//sessiongen:session name=A
type aData struct {
	UID   int64    ` + "`session:\"uid,owner\"`" + `
	Email string   ` + "`session:\"email,owner\"`" + `
	Roles []string ` + "`session:\"roles,owner\"`" + `
}
`
	_, err := generateSource(t, src)
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("err %v, want an ErrorList", err)
	}
	want := []string{
		`p.go:6:17: UID and Email are both tagged owner: a session has one owner`,
		`p.go:7:17: owner on Roles of type []string: an owner is a string or an integer`,
	}
	got := make([]string, len(list))
	for i, e := range list {
		got[i] = strings.TrimPrefix(e.Error(), filepath.Dir(e.Pos.Filename)+string(filepath.Separator))
	}
	if len(got) != len(want) {
		t.Fatalf("got %d errors, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("error %d:\n got %s\nwant %s…", i, got[i], want[i])
		}
	}
}
