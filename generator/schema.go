package generator

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strings"
)

// The schema is what a session stores, key by key, as wire types: the
// shape msgpack sees, not the Go names (a named string is a string). The
// generated file records it in a comment block that sessiongen -check
// compares the struct with before deploy:
//
//	//sessiongen:schema Visit
//	//	uid	int64	UserID
//	//	cart	[]{price:int64,qty:int,sku:string}	Cart

const schemaMarker = "//sessiongen:schema "

// schemaLine is one stored field of a recorded schema.
type schemaLine struct{ key, wire, field string }

// readSchema returns the schema of session name recorded in the file at
// path; found is false when the file or the block does not exist.
func readSchema(path, name string) (lines map[string]schemaLine, found bool, err error) {
	src, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	sc := bufio.NewScanner(bytes.NewReader(src))
	sc.Buffer(nil, 1<<20)
	in := false
	lines = map[string]schemaLine{}
	for sc.Scan() {
		l := sc.Text()
		switch {
		case l == schemaMarker+name:
			in, found = true, true
		case in && strings.HasPrefix(l, "//\t"):
			f := strings.Split(strings.TrimPrefix(l, "//\t"), "\t")
			if len(f) == 3 {
				lines[f[0]] = schemaLine{key: f[0], wire: f[1], field: f[2]}
			}
		case in:
			in = false
		}
	}
	return lines, found, sc.Err()
}

// compatible reports whether values stored as old decode as new without
// loss: the same wire type, an integer or float widened, a pointer added
// or removed, or containers whose elements are compatible.
func compatible(old, new string) bool {
	if old == new {
		return true
	}
	old, new = strings.TrimPrefix(old, "*"), strings.TrimPrefix(new, "*")
	if old == new {
		return true
	}
	if widens(old, new) {
		return true
	}
	for _, p := range []string{"[]", "map["} {
		if strings.HasPrefix(old, p) && strings.HasPrefix(new, p) {
			return containerCompatible(old[len(p):], new[len(p):], p == "map[")
		}
	}
	if strings.HasPrefix(old, "{") && strings.HasPrefix(new, "{") {
		return structCompatible(old, new)
	}
	return false
}

// intRange is the bits and signedness of each integer wire type.
var intRange = map[string]struct {
	bits   int
	signed bool
}{
	"int8": {8, true}, "int16": {16, true}, "int32": {32, true}, "int64": {64, true}, "int": {64, true},
	"uint8": {8, false}, "uint16": {16, false}, "uint32": {32, false}, "uint64": {64, false}, "uint": {64, false},
}

func widens(old, new string) bool {
	if old == "float32" && new == "float64" {
		return true
	}
	o, ok1 := intRange[old]
	n, ok2 := intRange[new]
	if !ok1 || !ok2 {
		return false
	}
	switch {
	case o.signed == n.signed:
		return n.bits >= o.bits
	case !o.signed && n.signed:
		return n.bits > o.bits
	}
	return false // signed into unsigned: negative values do not fit
}

// containerCompatible compares "elem" (slices) or "key]elem" (maps).
func containerCompatible(old, new string, isMap bool) bool {
	if !isMap {
		return compatible(old, new)
	}
	ok, ek, ok1 := cutTop(old, ']')
	nk, ne, ok2 := cutTop(new, ']')
	return ok1 && ok2 && compatible(ok, nk) && compatible(ek, ne)
}

// structCompatible compares "{k:w,…}" field by field: a field of old that
// new still has must be compatible; added and removed fields are fine.
func structCompatible(old, new string) bool {
	of, nf := splitFields(old), splitFields(new)
	for k, w := range of {
		if nw, ok := nf[k]; ok && !compatible(w, nw) {
			return false
		}
	}
	return true
}

func splitFields(s string) map[string]string {
	out := map[string]string{}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "{"), "}")
	for s != "" {
		part, rest, _ := cutTop(s, ',')
		k, w, _ := strings.Cut(part, ":")
		out[k] = w
		s = rest
	}
	return out
}

// cutTop cuts s at the first sep outside brackets and braces.
func cutTop(s string, sep byte) (before, after string, found bool) {
	depth := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if depth == 0 && c == sep {
			return s[:i], s[i+1:], true
		}
		switch c {
		case '[', '{':
			depth++
		case ']', '}':
			depth--
		}
	}
	return s, "", false
}

// checkSchema compares a session with the schema recorded where it will
// be written, and reports the changes that would drop or misread stored
// values.
func checkSchema(path string, s *sessionModel, e *errs) error {
	recorded, found, err := readSchema(path, s.Name)
	if err != nil || !found {
		return err
	}
	for _, f := range s.Fields {
		old, ok := recorded[f.Key]
		if !ok || compatible(old.wire, f.Wire) {
			continue
		}
		what := fmt.Sprintf("field %s changes the stored type of key %q from %s to %s", f.Name, f.Key, old.wire, f.Wire)
		if old.field != f.Name {
			what = fmt.Sprintf("field %s reuses key %q, which %s stored as %s, as %s", f.Name, f.Key, old.field, old.wire, f.Wire)
		}
		e.list = append(e.list, &Error{Pos: e.fset.Position(f.pos), Msg: what + ": live sessions would read it as a zero value. Keep the old type, or store the new one under a new key (session:\"" + f.Key + "2\")"})
	}
	return nil
}
