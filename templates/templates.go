// Package templates holds the text/template files sessiongen renders. It
// is a package of its own because embed cannot reach files in a parent
// directory.
package templates

import "embed"

// FS holds every *.tmpl file of this directory.
//
//go:embed *.tmpl
var FS embed.FS
