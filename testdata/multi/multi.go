// Package multi has two sessions in one package, a type from another
// package, and a package-level name that forces an import alias.
package multi

import "github.com/sessiongen/sessiongen/testdata/other"

//go:generate go tool sessiongen

// runtime is a package-level name: the generated code must import the
// sessiongen runtime under another name.
//
//lint:ignore U1000 it exists to force the import alias
var runtime = "not the runtime package"

// Cart is one session.
//
//sessiongen:session
type cartData struct {
	Lines []other.Line `session:"lines"`
	Total other.Money  `session:"total"`
}

type (
	// Admin is a second session in the same package, named explicitly.
	//
	//sessiongen:session name=Admin
	adminState struct {
		User  string `session:"user"`
		Level int    `session:"lvl,conflict=error"`
	}
)

// Marker stores no field of its own: a session that only marks a visitor.
//
//sessiongen:session name=Marker
type markerData struct{}
