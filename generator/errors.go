package generator

import (
	"fmt"
	"go/token"
	"sort"
	"strings"
)

// Error is a problem in the user's code, at a position.
type Error struct {
	Pos token.Position
	Msg string
}

// Error formats the error as "file:line:col: message".
func (e *Error) Error() string {
	if !e.Pos.IsValid() {
		return e.Msg
	}
	return fmt.Sprintf("%s: %s", e.Pos, e.Msg)
}

// ErrorList is every problem found in a package, sorted by position.
type ErrorList []*Error

// Error joins the errors, one a line.
func (l ErrorList) Error() string {
	msgs := make([]string, len(l))
	for i, e := range l {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// Unwrap returns the errors, for errors.Is and errors.As.
func (l ErrorList) Unwrap() []error {
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errs
}

func (l ErrorList) sorted() ErrorList {
	sort.SliceStable(l, func(i, j int) bool {
		a, b := l[i].Pos, l[j].Pos
		if a.Filename != b.Filename {
			return a.Filename < b.Filename
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
	return l
}

// errs collects positioned errors.
type errs struct {
	fset *token.FileSet
	list ErrorList
}

func (e *errs) at(pos token.Pos, format string, args ...any) {
	e.list = append(e.list, &Error{Pos: e.fset.Position(pos), Msg: fmt.Sprintf(format, args...)})
}

func (e *errs) err() error {
	if len(e.list) == 0 {
		return nil
	}
	return e.list.sorted()
}
