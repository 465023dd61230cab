package generator

import (
	"go/token"
	"slices"
	"strconv"
	"strings"
)

// The model is computed once from go/types by build.go: one valueModel per
// type met, linked into a tree through the helper codecs. Templates and
// -check read it and nothing else.

// fileModel is one generated file.
type fileModel struct {
	Package  string          // package name
	Path     string          // output file path
	Sessions []*sessionModel // in source order
	Codecs   []*codecModel   // helper codecs, sorted by name
	Guards   []*guardModel   // staleness guards for nested structs
	imports  *importer
}

// sessionModel is one generated session type.
type sessionModel struct {
	// Recursive is set when a stored type contains itself (type Tree
	// []Tree): its decoder checks the nesting depth first.
	Recursive bool
	Name      string        // generated type, e.g. Visit
	Struct    string        // the user's struct, e.g. visitData
	Doc       []string      // the struct's doc comment, its directives left out
	Guard     string        // struct type literal identical to the user's struct
	Fields    []*fieldModel // stored fields, in declaration order
	Keys      []string      // wire keys by field index

	ConflictKeys []string    // keys of the fields tagged conflict=error
	Owner        *fieldModel // the field tagged owner, or nil
}

// fieldModel is a stored field.
type fieldModel struct {
	Name       string // Go name, and the accessors' (UserID, SetUserID)
	Path       string // selector from the struct: Name, or Base.Name for a promoted field
	Key        string // wire key
	Index      int    // field number: the index into the schema's keys
	Const      string // the constant naming Index, e.g. visitFieldEmail
	Type       string // Go type expression
	Ref        bool   // can be changed in place through the getter's result
	Comparable bool   // the setter can compare with ==
	OmitEmpty  bool
	// ConflictError: two overlapping writes of this field fail the save
	// instead of the later one winning.
	ConflictError bool
	// Renew: setting a new value regenerates the session ID (a privilege
	// change, such as a login or a role).
	Renew bool
	// Max bounds len of a string, slice or map field (0: no bound).
	Max int
	// Flash: a read-once field; PopName returns it and clears it.
	Flash bool
	// Owner: the field names the session's owner (a user ID), for
	// LogoutAll and Sessions; OwnerFunc is the runtime/wire function that
	// turns it into a string.
	Owner     bool
	OwnerFunc string
	// Wire is the field's stored shape, recorded for sessiongen -check.
	Wire  string
	pos   token.Pos // for -check's errors
	Empty zeroTest  // how omitempty tests the field
	Val   *valueModel
}

// IsEmpty returns the test "x is empty", for omitempty.
func (f *fieldModel) IsEmpty(x string) string { return f.Empty.test(x, false) }

// IsSet returns the test "x is not empty", for omitempty.
func (f *fieldModel) IsSet(x string) string { return f.Empty.test(x, true) }

// valueModel is one Go type as the generator sees it, worked out once where the
// type is met (builder.value): how it is encoded, and what the templates
// and -check ask of it. Composite types point to their helper codecModel,
// whose elements and fields are valueModels in turn: the type tree.
type valueModel struct {
	Kind string // one of the Kind constants
	Type string // Go type expression
	Func string // helper name suffix, for KindCall

	codec      *codecModel // the helper, for KindCall
	leafWire   string      // the stored shape of a type with no helper: int64, bytes, time…
	pathType   string      // the type with package paths, for -check
	named      bool        // a named type: where recursion can close
	leafRef    bool        // a type with no helper that shares memory with its copies
	zero       zeroTest    // how omitempty tests it
	hasLen     bool        // len applies
	comparable bool        // == applies (booleans, numbers, strings)
}

// Wire is the stored shape of v, for sessiongen -check: the shape msgpack
// sees, not the Go names (a named string is a string).
func (v *valueModel) Wire() string { return v.wire(map[*codecModel]bool{}) }

func (v *valueModel) wire(seen map[*codecModel]bool) string {
	c := v.codec
	if c == nil {
		return v.leafWire
	}
	if v.named {
		if seen[c] {
			return "recursive:" + v.pathType
		}
		seen[c] = true
		defer delete(seen, c)
	}
	switch c.Kind {
	case "slice":
		return "[]" + c.Elem.wire(seen)
	case "array":
		return "[" + strconv.FormatInt(c.Len, 10) + "]" + c.Elem.wire(seen)
	case "bytearray":
		return "[" + strconv.FormatInt(c.Len, 10) + "]" + c.byteName
	case "map":
		return "map[" + c.Key.wire(seen) + "]" + c.Elem.wire(seen)
	case "ptr":
		return "*" + c.Elem.wire(seen)
	}
	parts := make([]string, 0, len(c.Fields))
	for _, f := range c.Fields {
		parts = append(parts, f.Key+":"+f.Val.wire(seen))
	}
	slices.Sort(parts)
	return "{" + strings.Join(parts, ",") + "}"
}

// Ref reports whether a value of v's type shares memory with its copies,
// so that a change through a getter's result reaches the session.
func (v *valueModel) Ref() bool { return v.ref(map[*codecModel]bool{}) }

func (v *valueModel) ref(seen map[*codecModel]bool) bool {
	c := v.codec
	if c == nil {
		return v.leafRef
	}
	if seen[c] {
		return false
	}
	seen[c] = true
	switch c.Kind {
	case "slice", "map", "ptr":
		return true
	case "array":
		return c.Elem.ref(seen)
	case "struct":
		for _, f := range c.Fields {
			if f.Val.ref(seen) {
				return true
			}
		}
	}
	return false
}

// Value kinds.
const (
	kindBool    = "bool"
	kindInt     = "int"
	kindUint    = "uint"
	kindFloat32 = "float32"
	kindFloat64 = "float64"
	kindString  = "string"
	kindBytes   = "bytes"
	kindTime    = "time"
	kindCall    = "call"
	kindCustom  = "custom" // msgpack.CustomEncoder and CustomDecoder
	kindBinary  = "binary" // encoding.BinaryMarshaler and BinaryUnmarshaler
	kindText    = "text"   // encoding.TextMarshaler and TextUnmarshaler
)

// codecModel is a helper encode/decode pair for a composite type.
type codecModel struct {
	Func     string      // name suffix: enc<Func> and dec<Func>
	Type     string      // Go type expression
	Kind     string      // slice, map, ptr, struct, array or bytearray
	Len      int64       // array length
	byteName string      // bytearray: the element type's name, byte or uint8
	Elem     *valueModel // slice, map and ptr elements
	Key      *valueModel // map keys
	Fields   []*fieldModel
}

// Omits reports whether a field of the struct is tagged omitempty.
func (c *codecModel) Omits() bool {
	for _, f := range c.Fields {
		if f.OmitEmpty {
			return true
		}
	}
	return false
}

// guardModel is a staleness guard: a conversion that stops compiling when the
// struct changes after generation.
type guardModel struct {
	Type    string // the struct's name
	Literal string // an identical struct type literal
	Name    string // the literal's type name, which the compiler's error shows: it says to run go generate
}

// guardName names the type a staleness guard converts to, so that the
// compiler's "cannot convert" error itself says what to do.
func guardName(typ string) string {
	return "_" + strings.NewReplacer(".", "_", "[", "_", "]", "_", ",", "_", " ", "").Replace(typ) + "_changed__run_go_generate"
}

// lowerFirst lower-cases the first letter of an identifier: Visit → visit.
func lowerFirst(s string) string { return strings.ToLower(s[:1]) + s[1:] }
