package generator

import (
	"go/token"
	"go/types"
	"sort"
	"strconv"
)

// RuntimePath is the import path of the package generated code uses.
const runtimePath = "github.com/sessiongen/sessiongen/runtime"

// WirePath is the import path of the package generated code is made of.
const wirePath = runtimePath + "/wire"

// importer picks a local name for every package the generated file uses,
// one that collides with nothing in the package's scope, no predeclared
// identifier and no other import (mockgen's approach).
type importer struct {
	self     *types.Package
	taken    map[string]bool
	byPath   map[string]string // local name by path
	declared map[string]string // package name by path
}

func newImporter(self *types.Package, taken map[string]bool) *importer {
	return &importer{self: self, taken: taken, byPath: map[string]string{}, declared: map[string]string{}}
}

// name returns the local name for the package at path, whose declared name is pkgName.
func (im *importer) name(path, pkgName string) string {
	if n, ok := im.byPath[path]; ok {
		return n
	}
	n := pkgName
	for i := 2; im.taken[n] || token.Lookup(n).IsKeyword() || types.Universe.Lookup(n) != nil; i++ {
		n = "sg" + pkgName
		if i > 2 {
			n += strconv.Itoa(i)
		}
	}
	im.taken[n] = true
	im.byPath[path] = n
	im.declared[path] = pkgName
	return n
}

// qualifier is a types.Qualifier: types of the package itself are
// unqualified, others use their local name.
func (im *importer) qualifier(p *types.Package) string {
	if p == im.self {
		return ""
	}
	return im.name(p.Path(), p.Name())
}

// importSpec is one line of the import block.
type importSpec struct {
	Name string // empty when it equals the package's own name
	Path string
}

func (im *importer) specs() []importSpec {
	var out []importSpec
	for path, n := range im.byPath {
		s := importSpec{Path: path}
		if n != im.declared[path] {
			s.Name = n
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}
