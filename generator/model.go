package generator

import (
	"go/token"
	"strings"
)

// The model is plain data: strings, ints and bools, computed once from
// go/types by build.go. Templates read it and nothing else.

// Model is one generated file.
type Model struct {
	Package  string     // package name
	Path     string     // output file path
	Sessions []*Session // in source order
	Codecs   []*Codec   // helper codecs, sorted by name
	Guards   []*Guard   // staleness guards for nested structs
	imports  *importer
}

// Session is one generated session type.
type Session struct {
	// Recursive is set when a stored type contains itself (type Tree
	// []Tree): its decoder checks the nesting depth first.
	Recursive bool
	Name      string   // generated type, e.g. Visit
	Struct    string   // the user's struct, e.g. visitData
	Doc       []string // the struct's doc comment, its directives left out
	Guard     string   // struct type literal identical to the user's struct
	Fields    []*Field // stored fields, in declaration order
	Keys      []string // wire keys by field index

	ConflictKeys []string // keys of the fields tagged conflict=error
}

// Field is a stored field.
type Field struct {
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
	// Wire is the field's stored shape, recorded for sessiongen -check.
	Wire  string
	pos   token.Pos // for -check's errors
	Empty zeroTest  // how omitempty tests the field
	Val   *Value
}

// IsEmpty returns the test "x is empty", for omitempty.
func (f *Field) IsEmpty(x string) string { return f.Empty.test(x, false) }

// IsSet returns the test "x is not empty", for omitempty.
func (f *Field) IsSet(x string) string { return f.Empty.test(x, true) }

// Value says how one Go type is encoded. Primitive kinds are coded inline;
// KindCall values through a helper Codec.
type Value struct {
	Kind string // one of the Kind constants
	Type string // Go type expression
	Conv bool   // a named type: convert to and from the primitive
	Bits int    // size of integer kinds
	Func string // helper name suffix, for KindCall
}

// Value kinds.
const (
	KindBool    = "bool"
	KindInt     = "int"
	KindUint    = "uint"
	KindFloat32 = "float32"
	KindFloat64 = "float64"
	KindString  = "string"
	KindBytes   = "bytes"
	KindTime    = "time"
	KindCall    = "call"
	KindCustom  = "custom" // msgpack.CustomEncoder and CustomDecoder
	KindBinary  = "binary" // encoding.BinaryMarshaler and BinaryUnmarshaler
	KindText    = "text"   // encoding.TextMarshaler and TextUnmarshaler
)

// Codec is a helper encode/decode pair for a composite type.
type Codec struct {
	Func   string // name suffix: enc<Func> and dec<Func>
	Type   string // Go type expression
	Kind   string // slice, map, ptr, struct, array or bytearray
	Len    int64  // array length
	Elem   *Value // slice, map and ptr elements
	Key    *Value // map keys
	Fields []*Field
}

// Omits reports whether a field of the struct is tagged omitempty.
func (c *Codec) Omits() bool {
	for _, f := range c.Fields {
		if f.OmitEmpty {
			return true
		}
	}
	return false
}

// Guard is a staleness guard: a conversion that stops compiling when the
// struct changes after generation.
type Guard struct {
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
