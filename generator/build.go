package generator

import (
	"go/ast"
	"go/token"
	"go/types"
	"maps"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"golang.org/x/tools/go/packages"
)

// methods the generated type has besides its field accessors.
var lifecycleMethods = []string{"ID", "IsNew", "Err", "Regenerate", "Destroy", "Save", "Reload", "Touch", "RememberMe", "EncodeMsgpack", "DecodeMsgpack"}

// builder turns go/types information into the model.
type builder struct {
	pkg    *packages.Package
	e      *errs
	imp    *importer
	prefix string // helper name prefix: the session's name
	codecs map[string]*codecModel
	guards map[string]*guardModel
	// building holds the codecs being built; meeting one again means a
	// type contains itself (type Tree []Tree).
	building  map[string]bool
	recursive bool
}

// build makes the models of the files to write, one per output file.
func build(pkg *packages.Package, targets []*target, output string, e *errs) []*fileModel {
	taken := packageNames(pkg)
	dir := pkgDir(pkg)
	byPath := map[string]*fileModel{}
	var models []*fileModel
	generated := map[string]token.Pos{}
	guarded := map[string]bool{} // a nested struct's guard is declared once per package
	for _, t := range targets {
		if t.name == "" {
			t.name = sessionName(t.spec.Name.Name)
			if t.name == t.spec.Name.Name || t.name == "" {
				e.at(t.pos, "cannot derive a session name from %s: add name=X to the directive, e.g. //sessiongen:session name=%sSession", t.spec.Name.Name, sessionName(t.spec.Name.Name))
				continue
			}
		}
		path := output
		if path == "" {
			path = strings.ToLower(t.name) + "_session.go"
		}
		if !filepath.IsAbs(path) {
			path = filepath.Join(dir, path)
		}
		m := byPath[path]
		if m == nil {
			m = &fileModel{Package: pkg.Name, Path: path, imports: newImporter(pkg.Types, maps.Clone(taken))}
			byPath[path] = m
			models = append(models, m)
		}
		for _, n := range topNames(t.name) {
			if prev, dup := generated[n]; dup {
				e.at(t.pos, "%s would be generated twice (also for the struct at %s): give one of them another name=", n, e.fset.Position(prev))
			} else if obj := taken[n]; obj {
				e.at(t.pos, "generated name %s is already declared in package %s: pick another with name=", n, pkg.Name)
			}
			generated[n] = t.pos
		}
		b := &builder{pkg: pkg, e: e, imp: m.imports, prefix: t.name, codecs: map[string]*codecModel{}, guards: map[string]*guardModel{}, building: map[string]bool{}}
		if s := b.session(t); s != nil {
			s.Recursive = b.recursive
			m.Sessions = append(m.Sessions, s)
			m.Codecs = append(m.Codecs, sortedValues(b.codecs)...)
			for _, g := range sortedValues(b.guards) {
				if !guarded[g.Type] {
					guarded[g.Type] = true
					m.Guards = append(m.Guards, g)
				}
			}
		}
	}
	return models
}

// topNames are the package-level names generated for a session.
func topNames(name string) []string {
	return []string{name, name + "Manager", "New" + name + "Manager", name + "From"}
}

// packageNames returns the names declared at package level, except in
// files sessiongen generated (they are about to be replaced).
func packageNames(pkg *packages.Package) map[string]bool {
	ours := map[*token.File]bool{}
	for _, f := range pkg.Syntax {
		if isOurs(f) {
			ours[pkg.Fset.File(f.Pos())] = true
		}
	}
	taken := map[string]bool{}
	scope := pkg.Types.Scope()
	for _, n := range scope.Names() {
		if !ours[pkg.Fset.File(scope.Lookup(n).Pos())] {
			taken[n] = true
		}
	}
	return taken
}

func pkgDir(pkg *packages.Package) string {
	if len(pkg.GoFiles) > 0 {
		return filepath.Dir(pkg.GoFiles[0])
	}
	return "."
}

// session builds one session type.
func (b *builder) session(t *target) *sessionModel {
	st := t.obj.Type().Underlying().(*types.Struct)
	s := &sessionModel{Name: t.name, Struct: t.obj.Name(), Guard: b.literal(st), Doc: t.doc}
	fieldAST := map[string]*ast.Field{}
	for _, f := range t.st.Fields.List {
		for _, n := range f.Names {
			fieldAST[n.Name] = f
		}
	}
	methods := map[string]string{}
	for _, m := range lifecycleMethods {
		methods[m] = "generated method " + t.name + "." + m
	}
	keys := map[string]string{}
	before := len(b.e.list)
	for _, f := range b.collect(st, "", fieldAST) {
		if other, dup := keys[f.Key]; dup {
			b.e.at(f.pos, "key %q is used by both %s and %s: give one of them another session:\"key\"", f.Key, other, f.Name)
			continue
		}
		keys[f.Key] = f.Name
		// collect built every field's Value: the type tree is complete, and
		// the stored shape and whether the type shares memory read off it.
		f.Wire, f.Ref = f.Val.Wire(), f.Val.Ref()
		accessors := []string{f.Name, "Set" + f.Name}
		if f.Ref {
			accessors = append(accessors, "Update"+f.Name)
		}
		if f.Flash {
			accessors = append(accessors, "Pop"+f.Name)
		}
		for _, a := range accessors {
			if what, dup := methods[a]; dup {
				b.e.at(f.namePos, "field %s needs a method %s, which collides with %s: rename the field (keep its stored key with session:%q)", f.Name, a, what, f.Key)
			}
			methods[a] = "the accessor " + a + " of field " + f.Name
		}
		f.Index = len(s.Fields)
		f.Const = lowerFirst(t.name) + "Field" + f.Name
		s.Fields = append(s.Fields, f.fieldModel)
		s.Keys = append(s.Keys, f.Key)
		if f.ConflictError {
			s.ConflictKeys = append(s.ConflictKeys, f.Key)
		}
		if f.Owner {
			if s.Owner != nil {
				b.e.at(f.pos, "%s and %s are both tagged owner: a session has one owner; drop the option from one", s.Owner.Name, f.Name)
			}
			s.Owner = f.fieldModel
		}
	}
	if len(b.e.list) > before {
		return nil
	}
	return s
}

// placed is a field with the positions its errors point at.
type placed struct {
	*fieldModel
	pos, namePos token.Pos
}

// collect returns the stored fields of st: exported fields, with the
// exported fields of embedded structs promoted (stored under their own
// keys, reached through prefix). fieldAST, when known, gives tag positions.
func (b *builder) collect(st *types.Struct, prefix string, fieldAST map[string]*ast.Field) []placed {
	var out []placed
	for i := 0; i < st.NumFields(); i++ {
		v := st.Field(i)
		if v.Embedded() {
			if _, isPtr := types.Unalias(v.Type()).(*types.Pointer); isPtr {
				b.e.at(v.Pos(), "embedded field %s is a pointer: embed the struct by value, since a nil pointer cannot hold stored fields", v.Name())
				continue
			}
			if inner, ok := b.promoted(v); ok {
				if n, ok := types.Unalias(v.Type()).(*types.Named); ok {
					b.guard(n, inner)
				}
				out = append(out, b.collect(inner, prefix+v.Name()+".", nil)...)
				continue
			}
		}
		if !v.Exported() {
			continue // not stored
		}
		tagPos := v.Pos()
		if af := fieldAST[v.Name()]; af != nil && af.Tag != nil {
			tagPos = af.Tag.Pos()
		}
		f, ok := b.field(v, st.Tag(i), tagPos)
		if !ok || f == nil {
			continue
		}
		f.Path = prefix + f.Name
		out = append(out, placed{fieldModel: f, pos: tagPos, namePos: v.Pos()})
	}
	return out
}

// ownerFunc names the runtime/wire function that turns an owner field of
// type t into the owner's string, or "" if t cannot name an owner.
func ownerFunc(t types.Type) string {
	u, ok := t.Underlying().(*types.Basic)
	switch {
	case !ok:
		return ""
	case u.Info()&types.IsString != 0:
		return "OwnerString"
	case u.Info()&types.IsUnsigned != 0 && u.Info()&types.IsInteger != 0:
		return "OwnerUint"
	case u.Info()&types.IsInteger != 0:
		return "OwnerInt"
	}
	return ""
}

// sessionTag reads a field's session tag: its key (default: the field's
// name), its options, and whether it is stored at all (session:"-").
func sessionTag(name, tag string) (key string, opts []string, stored bool) {
	raw, ok := reflect.StructTag(tag).Lookup("session")
	if !ok {
		return name, nil, true
	}
	parts := strings.Split(raw, ",")
	if parts[0] == "-" && len(parts) == 1 {
		return "", nil, false
	}
	if key = parts[0]; key == "" {
		key = name
	}
	return key, parts[1:], true
}

// promoted returns the struct whose fields an embedded field promotes into
// the session: an embedded struct by value that does not encode itself.
func (b *builder) promoted(v *types.Var) (*types.Struct, bool) {
	inner, ok := v.Type().Underlying().(*types.Struct)
	return inner, ok && v.Embedded() && !isTime(v.Type()) && b.selfCoded(v.Type()) == ""
}

// field reads one exported field: its tag, key and codec. A nil field
// with ok true is a field tagged session:"-".
func (b *builder) field(v *types.Var, tag string, tagPos token.Pos) (*fieldModel, bool) {
	key, opts, stored := sessionTag(v.Name(), tag)
	if !stored {
		return nil, true
	}
	f := &fieldModel{Name: v.Name(), Path: v.Name(), Key: key}
	for _, opt := range opts {
		switch {
		case opt == "omitempty":
			f.OmitEmpty = true
		case opt == "conflict=error":
			f.ConflictError = true
		case opt == "conflict=last":
			// the default: the later of two overlapping writers wins
		case opt == "renew":
			f.Renew = true
		case opt == "flash":
			f.Flash = true
		case opt == "owner":
			f.Owner = true
		case strings.HasPrefix(opt, "max="):
			n, err := strconv.Atoi(strings.TrimPrefix(opt, "max="))
			if err != nil || n < 1 {
				b.e.at(tagPos, "%s of %s: max= takes a positive length, e.g. max=256", opt, v.Name())
				return nil, false
			}
			f.Max = n
		default:
			b.e.at(tagPos, "unknown option %q in session tag of %s (known: omitempty, flash, max=N, renew, owner, conflict=error, conflict=last)", opt, v.Name())
			return nil, false
		}
	}
	if strings.ContainsFunc(f.Key, func(r rune) bool { return !unicode.IsPrint(r) || r == ' ' }) {
		b.e.at(tagPos, "key %q of %s has spaces or unprintable characters: use letters, digits and punctuation", f.Key, v.Name())
		return nil, false
	}
	t := v.Type()
	f.Val = b.value(t, v.Pos(), v.Name())
	if f.Val == nil {
		return nil, false
	}
	f.Type = types.TypeString(t, b.imp.qualifier)
	f.pos = v.Pos()
	f.Comparable = f.Val.comparable
	f.Empty = f.Val.zero
	if f.Max > 0 && !f.Val.hasLen {
		b.e.at(tagPos, "max= on %s of type %s: it bounds strings, slices and maps only", v.Name(), f.Type)
		return nil, false
	}
	if f.Owner {
		if f.OwnerFunc = ownerFunc(t); f.OwnerFunc == "" {
			b.e.at(tagPos, "owner on %s of type %s: an owner is a string or an integer (a user ID): tag such a field instead", v.Name(), f.Type)
			return nil, false
		}
	}
	if (f.OmitEmpty || f.Flash) && f.Empty == zeroNone {
		b.e.at(tagPos, "omitempty and flash need a zero test, which %s of type %s lacks: drop the option", v.Name(), f.Type)
		return nil, false
	}
	return f, true
}

// value says how to encode t, recording helper codecs as needed. Unsupported
// types are reported at pos and give nil.
func (b *builder) value(t types.Type, pos token.Pos, field string) *valueModel {
	t = types.Unalias(t)
	v := b.describe(t, pos, field)
	if v != nil {
		_, v.named = t.(*types.Named)
		v.pathType = types.TypeString(t, func(p *types.Package) string { return p.Path() })
		v.zero, v.hasLen = emptyTest(t), hasLen(t)
		if u, ok := t.Underlying().(*types.Basic); ok && u.Info()&(types.IsBoolean|types.IsNumeric|types.IsString) != 0 {
			v.comparable = true
		}
	}
	return v
}

// describe says how t is encoded, building helper codecs as needed.
func (b *builder) describe(t types.Type, pos token.Pos, field string) *valueModel {
	typ := types.TypeString(t, b.imp.qualifier)
	if isTime(t) {
		return &valueModel{Kind: kindTime, Type: typ, leafWire: "time"}
	}
	if k := b.selfCoded(t); k != "" {
		// What a type that encodes itself holds is its own business: a
		// copy may share memory with it if any of its fields could.
		path := types.TypeString(t, func(p *types.Package) string { return p.Path() })
		return &valueModel{Kind: k, Type: typ, leafWire: k + ":" + path, leafRef: isRef(t)}
	}
	if _, ok := t.(*types.TypeParam); ok {
		b.e.at(pos, "field %s has type parameter type %s: session fields need concrete types", field, typ)
		return nil
	}
	if n, ok := t.(*types.Named); ok && n.TypeArgs().Len() > 0 {
		b.e.at(pos, "field %s has generic type %s: instantiated generic types are not supported yet; use a non-generic named type", field, typ)
		return nil
	}
	_, named := t.(*types.Named)
	switch u := t.Underlying().(type) {
	case *types.Basic:
		v := &valueModel{Type: typ, leafWire: u.Name()}
		switch k := u.Kind(); {
		case k == types.Bool:
			v.Kind = kindBool
		case k == types.Int || k == types.Int8 || k == types.Int16 || k == types.Int32 || k == types.Int64:
			v.Kind = kindInt
		case k == types.Uint || k == types.Uint8 || k == types.Uint16 || k == types.Uint32 || k == types.Uint64:
			v.Kind = kindUint
		case k == types.Float32:
			v.Kind = kindFloat32
		case k == types.Float64:
			v.Kind = kindFloat64
		case k == types.String:
			v.Kind = kindString
		case k == types.Invalid:
			b.e.at(pos, "field %s has type %s, which does not type-check (a struct that contains itself without a pointer is one such type): fix the type first; go vet shows why", field, typ)
			return nil
		default:
			b.e.at(pos, "field %s has type %s, which cannot be stored: use an integer, float, string or bool type", field, typ)
			return nil
		}
		return v
	case *types.Slice:
		if e, ok := u.Elem().(*types.Basic); ok && e.Kind() == types.Uint8 {
			return &valueModel{Kind: kindBytes, Type: typ, leafWire: "bytes", leafRef: true}
		}
		return b.helper(t, "slice", pos, field)
	case *types.Map:
		k, ok := u.Key().Underlying().(*types.Basic)
		if !ok || k.Info()&(types.IsString|types.IsInteger) == 0 || k.Kind() == types.Uintptr {
			b.e.at(pos, "field %s has map type %s: map keys must be strings or integers", field, typ)
			return nil
		}
		return b.helper(t, "map", pos, field)
	case *types.Pointer:
		return b.helper(t, "ptr", pos, field)
	case *types.Struct:
		if !named {
			b.e.at(pos, "field %s has an anonymous struct type: declare a named struct type for it", field)
			return nil
		}
		if containsItself(t, u, map[types.Type]bool{}) {
			b.e.at(pos, "field %s has type %s, which contains itself without a pointer: its values would be infinite; make the inner field a pointer (*%s)", field, typ, typ)
			return nil
		}
		return b.helper(t, "struct", pos, field)
	case *types.Array:
		if e, ok := u.Elem().(*types.Basic); ok && e.Kind() == types.Uint8 {
			return b.helper(t, "bytearray", pos, field)
		}
		return b.helper(t, "array", pos, field)
	case *types.Interface:
		b.e.at(pos, "field %s has interface type %s: the codec needs a concrete type to decode into; use a concrete type (or []byte with your own encoding)", field, typ)
	case *types.Chan, *types.Signature:
		b.e.at(pos, "field %s has type %s, which cannot be stored: channels and funcs are not data; tag the field session:\"-\"", field, typ)
	default:
		b.e.at(pos, "field %s has type %s, which cannot be stored", field, typ)
	}
	return nil
}

// helper returns a call to the helper codec for t, building it first.
func (b *builder) helper(t types.Type, kind string, pos token.Pos, field string) *valueModel {
	name := b.prefix + mangle(t, b.pkg.Types)
	v := &valueModel{Kind: kindCall, Type: types.TypeString(t, b.imp.qualifier), Func: name}
	if c, ok := b.codecs[name]; ok {
		b.recursive = b.recursive || b.building[name]
		v.codec = c
		return v // done, or in progress (a recursive type)
	}
	c := &codecModel{Func: name, Type: v.Type, Kind: kind}
	v.codec = c
	b.codecs[name] = c
	b.building[name] = true
	defer delete(b.building, name)
	ok := true
	switch u := t.Underlying().(type) {
	case *types.Slice:
		c.Elem = b.value(u.Elem(), pos, field)
		ok = c.Elem != nil
	case *types.Map:
		c.Key = b.value(u.Key(), pos, field)
		c.Elem = b.value(u.Elem(), pos, field)
		ok = c.Key != nil && c.Elem != nil
	case *types.Pointer:
		c.Elem = b.value(u.Elem(), pos, field)
		ok = c.Elem != nil
	case *types.Array:
		c.Len = u.Len()
		if kind == "bytearray" {
			c.byteName = u.Elem().(*types.Basic).Name() // byte or uint8, as written
		}
		if kind == "array" {
			c.Elem = b.value(u.Elem(), pos, field)
			ok = c.Elem != nil
		}
	case *types.Struct:
		ok = b.structFields(c, t.(*types.Named), u, pos)
	}
	if !ok {
		return nil
	}
	return v
}

// structFields fills the fields of a nested struct's codec: exported
// fields, keyed like the session's own, embedded structs promoted. A
// struct of another package with unexported fields would lose them, so it
// is refused unless it encodes itself (MarshalBinary and friends).
func (b *builder) structFields(c *codecModel, n *types.Named, st *types.Struct, pos token.Pos) bool {
	if p := n.Obj().Pkg(); p != nil && p != b.pkg.Types {
		for i := 0; i < st.NumFields(); i++ {
			if !st.Field(i).Exported() && !st.Field(i).Embedded() {
				b.e.at(pos, "%s has unexported fields, which would not be stored: it needs MarshalBinary/UnmarshalBinary (or MarshalText, or msgpack's EncodeMsgpack/DecodeMsgpack), or store its exported parts in a struct of your own", c.Type)
				return false
			}
		}
	}
	before := len(b.e.list)
	keys := map[string]string{}
	for _, f := range b.collect(st, "", nil) {
		if f.ConflictError || f.Renew || f.Flash || f.Owner {
			b.e.at(f.pos, "option on %s.%s: conflict=error, renew, flash and owner apply to the session's own fields", c.Type, f.Name)
			return false
		}
		if other, dup := keys[f.Key]; dup {
			b.e.at(f.pos, "key %q is used by both %s.%s and %s.%s", f.Key, c.Type, other, c.Type, f.Name)
			return false
		}
		keys[f.Key] = f.Name
		c.Fields = append(c.Fields, f.fieldModel)
	}
	b.guard(n, st)
	return len(b.e.list) == before
}

// guard records a staleness guard for a named struct, where one can be
// written: a struct of another package with unexported fields cannot be
// spelled out here.
func (b *builder) guard(n *types.Named, st *types.Struct) {
	if n.Obj().Pkg() != b.pkg.Types {
		for i := 0; i < st.NumFields(); i++ {
			if !st.Field(i).Exported() {
				return
			}
		}
	}
	typ := types.TypeString(n, b.imp.qualifier)
	b.guards[typ] = &guardModel{Type: typ, Literal: b.literal(st), Name: guardName(typ)}
}

// sortedValues returns m's values in the order of their keys: generated
// code must not depend on map order.
func sortedValues[T any](m map[string]T) []T {
	out := make([]T, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, m[k])
	}
	return out
}
