// Package generator turns Go structs annotated with //sessiongen:session
// into typed session types. It flows load → find → build → render →
// format; the CLI in cmd/sessiongen writes the result.
package generator

import (
	"fmt"
	"go/token"

	"golang.org/x/tools/go/packages"
)

// Config says what to generate.
type Config struct {
	// Dir is the directory of the package. Default: the current one.
	Dir string
	// Types names structs to generate sessions for even without the
	// //sessiongen:session annotation.
	Types []string
	// Output is the file to write every session to. Default: one file per
	// session, named after it in lower case plus "_session.go".
	Output string
	// Tags are build tags to load the package with.
	Tags []string
	// Check compares each struct with the schema recorded in its
	// generated file instead of generating: changes that would make live
	// sessions lose or misread stored values are errors.
	Check bool
}

// File is a generated file.
type File struct {
	Path string // absolute, or relative to the current directory
	Src  []byte // gofmt'ed Go source
}

// Generate loads the package and returns the files to write. Problems in
// the user's code come back as an ErrorList of positioned errors, all of
// them, sorted.
func Generate(cfg Config) ([]File, error) {
	if cfg.Dir == "" {
		cfg.Dir = "."
	}
	pkg, err := load(cfg.Dir, cfg.Tags)
	if err != nil {
		return nil, err
	}
	return generate(pkg, cfg)
}

// generate is Generate after loading: find, build, render, format.
func generate(pkg *packages.Package, cfg Config) ([]File, error) {
	e := &errs{fset: pkg.Fset}
	targets := find(pkg, cfg.Types, e)
	typeErrorsIn(pkg, targets, e)
	if len(targets) == 0 && len(e.list) == 0 {
		return nil, fmt.Errorf("no struct in package %s is annotated with //sessiongen:session (or named with -type)", pkg.PkgPath)
	}
	models := build(pkg, targets, cfg.Output, e)
	if err := e.err(); err != nil {
		return nil, err
	}
	if cfg.Check {
		for _, m := range models {
			for _, s := range m.Sessions {
				if err := checkSchema(m.Path, s, e); err != nil {
					return nil, err
				}
			}
		}
		return nil, e.err()
	}
	files := make([]File, 0, len(models))
	for _, m := range models {
		src, err := render(m)
		if err != nil {
			return nil, err
		}
		if src, err = format(m.Path, src); err != nil {
			return nil, err
		}
		files = append(files, File{Path: m.Path, Src: src})
	}
	return files, nil
}

// typeErrorsIn reports the type errors that fall inside the annotated
// structs; the others may be caused by code this run generates.
func typeErrorsIn(pkg *packages.Package, targets []*target, e *errs) {
	for _, pe := range pkg.Errors {
		if pe.Kind != packages.TypeError {
			continue
		}
		pos := parsePos(pe.Pos)
		for _, t := range targets {
			from, to := pkg.Fset.Position(t.spec.Pos()), pkg.Fset.Position(t.spec.End())
			if sameFile(pos, from) && pos.Line >= from.Line && pos.Line <= to.Line {
				e.list = append(e.list, &Error{Pos: pos, Msg: pe.Msg})
			}
		}
	}
}

func sameFile(a, b token.Position) bool { return a.Filename == b.Filename }
