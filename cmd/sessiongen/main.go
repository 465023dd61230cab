// Sessiongen generates typed HTTP sessions from Go structs.
//
// Annotate a struct and add a go:generate line:
//
//	//go:generate go tool sessiongen
//
//	// Visit is what we remember about a visitor.
//	//
//	//sessiongen:session name=Visit
//	type visitData struct {
//		UserID int64    `session:"uid"`
//		Email  string   `session:"email,omitempty"`
//		Cart   []Item   `session:"cart"`
//		Debug  string   `session:"-"` // not stored
//		temp   string   // unexported: not stored
//	}
//
// Running go generate writes visit_session.go next to it, with the type
// Visit: a getter and a setter per stored field (UserID, SetUserID, …),
// UpdateCart for fields that can change in place, lifecycle methods (ID,
// IsNew, Regenerate, Destroy, Save, Reload, Touch), a msgpack codec, and
// NewVisitManager, whose Middleware puts a Visit in every request's
// context for VisitFrom to find.
//
// Usage:
//
//	sessiongen [flags] [dir]
//
// dir is the package directory; under go generate it is the package of
// $GOFILE. The flags are:
//
//	-type T,U   also generate for these structs, annotated or not
//	-output F   write every session to file F (default: <name>_session.go each)
//	-tags T,U   build tags to load the package with
//	-check      compare the structs with the schema recorded in their
//	            generated files and fail, naming the field, on a change that
//	            would make live sessions lose or misread stored values (a
//	            key's type changed incompatibly, a key reused); write nothing.
//	            Run it in CI before go generate.
//	-version    print the version and exit
//
// To read a stored session while debugging, see the command
// sessiongen-inspect (sessiongen inspect says how to run it).
//
// The directive takes one argument, name=X, the generated type's name.
// Without it the name is the struct's with its first letter upper-cased
// and a trailing "Data" removed (visitData → Visit).
//
// Field tags: session:"key" stores the field under key (default: the
// field's name; keys are the schema, so pin them before renaming fields);
// session:"key,omitempty" leaves zero values out of the record;
// session:"key,renew" regenerates the session ID when the setter changes
// the value (a login, a role); session:"key,max=N" bounds the length of a
// string, slice or map; session:"key,conflict=error" makes two overlapping
// writes of the field fail instead of the later winning; session:"-" does
// not store the field. Unexported fields are not stored.
//
// Errors name file:line:col and what to change; every error in the
// package is reported. The exit code is 2 for bad usage and 1 when
// generation fails.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/sessiongen/sessiongen/generator"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const modulePath = "github.com/sessiongen/sessiongen"

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sessiongen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		types   = fs.String("type", "", "comma-separated `names` of structs to generate for, annotated or not")
		output  = fs.String("output", "", "`file` to write every session to (default: <name>_session.go each)")
		tags    = fs.String("tags", "", "comma-separated build `tags`")
		check   = fs.Bool("check", false, "compare the structs with the schema recorded in their generated files, and fail on changes that would lose stored data; write nothing")
		version = fs.Bool("version", false, "print the version and exit")
	)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: sessiongen [flags] [dir]\n\nGenerates typed HTTP sessions for the structs of the package in dir\n(default: the current directory) annotated with //sessiongen:session.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *version {
		fmt.Fprintln(stdout, "sessiongen", buildVersion())
		return 0
	}
	if fs.Arg(0) == "inspect" {
		v := buildVersion()
		if !strings.HasPrefix(v, "v") {
			v = "latest"
		}
		fmt.Fprintf(stderr, "sessiongen: inspect is a command of its own, so that generating code never brings every store's client into your module:\n\n\tgo run %s/cmd/sessiongen-inspect@%s -store URL -- COOKIE-OR-ID\n", modulePath, v)
		return 2
	}
	if fs.NArg() > 1 {
		fmt.Fprintf(stderr, "sessiongen: one directory at most, got %d\n", fs.NArg())
		fs.Usage()
		return 2
	}
	cfg := generator.Config{Dir: fs.Arg(0), Types: split(*types), Output: *output, Tags: split(*tags), Check: *check}
	files, err := generator.Generate(cfg)
	if err == nil && !*check {
		err = generator.Write(files)
	}
	if err != nil {
		report(stderr, err)
		return 1
	}
	return 0
}

// report prints err one problem a line, each prefixed "sessiongen: ",
// with paths relative to the module's root.
func report(w io.Writer, err error) {
	var list generator.ErrorList
	var broken *generator.BrokenError
	switch {
	case errors.As(err, &list):
		for _, e := range list {
			e.Pos.Filename = relative(e.Pos.Filename)
			fmt.Fprintf(w, "sessiongen: %v\n", e)
		}
	case errors.As(err, &broken):
		out := broken.Path + ".broken"
		if werr := os.WriteFile(out, broken.Src, 0o644); werr == nil {
			fmt.Fprintf(w, "sessiongen: %v (the source is in %s)\n", err, relative(out))
		} else {
			fmt.Fprintf(w, "sessiongen: %v\n", err)
		}
	default:
		fmt.Fprintf(w, "sessiongen: %v\n", err)
	}
}

// relative returns path relative to the root of its module (the nearest
// directory above it with a go.mod), so that go generate, which runs in
// the package's directory, and -check, run from anywhere, both print
// shop/visit.go:5:1, as go vet ./... does from the root. Outside a module
// it is relative to the current directory.
func relative(path string) string {
	if !filepath.IsAbs(path) {
		return path
	}
	for dir := filepath.Dir(path); ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			if rel, err := filepath.Rel(dir, path); err == nil {
				return rel
			}
			break
		}
		if filepath.Dir(dir) == dir {
			break
		}
	}
	wd, err := os.Getwd()
	if err != nil {
		return path
	}
	if rel, err := filepath.Rel(wd, path); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return path
}

func split(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// buildVersion is the module version sessiongen was built from, as go
// get -tool or go install recorded it.
func buildVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	if info.Main.Path == modulePath {
		return info.Main.Version
	}
	for _, d := range info.Deps {
		if d.Path == modulePath {
			return d.Version
		}
	}
	return "(devel)"
}
