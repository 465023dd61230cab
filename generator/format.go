package generator

import (
	"fmt"

	"golang.org/x/tools/imports"
)

// format gofmts the rendered source and sorts its imports (x/tools/imports
// with FormatOnly: the import list is already complete, so nothing is
// looked up). Source that does not parse is our bug: the error carries it
// so the CLI can write it to <file>.broken.
func format(path string, src []byte) ([]byte, error) {
	out, err := imports.Process(path, src, &imports.Options{FormatOnly: true, Comments: true, TabIndent: true, TabWidth: 8})
	if err != nil {
		return nil, &BrokenError{Path: path, Src: src, Err: err}
	}
	return out, nil
}

// BrokenError means sessiongen rendered Go that does not parse: a bug in
// sessiongen, not in the user's code.
type BrokenError struct {
	Path string
	Src  []byte // the unformatted source
	Err  error
}

// Error says which file and why, and that it is a bug.
func (e *BrokenError) Error() string {
	return fmt.Sprintf("internal error: generated code for %s does not parse: %v (please report this bug)", e.Path, e.Err)
}

// Unwrap returns the formatter's error.
func (e *BrokenError) Unwrap() error { return e.Err }
