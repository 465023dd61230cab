package generator

import (
	"go/types"
	"strconv"
	"strings"
)

// What the generator asks of a Go type: how it encodes itself, whether a
// copy shares memory, how its emptiness is tested, how a helper is named.

// selfCoded reports how a type encodes itself, if it does: msgpack's
// CustomEncoder and CustomDecoder, encoding.BinaryMarshaler and
// BinaryUnmarshaler, or TextMarshaler and TextUnmarshaler, in that order
// of preference. Both directions are needed.
func (b *builder) selfCoded(t types.Type) string {
	if _, isPtr := t.Underlying().(*types.Pointer); isPtr {
		return ""
	}
	if _, isIface := t.Underlying().(*types.Interface); isIface {
		return ""
	}
	ms := types.NewMethodSet(types.NewPointer(t))
	has := func(name, param, result string) bool {
		sel := ms.Lookup(nil, name)
		if sel == nil {
			if sel = ms.Lookup(b.pkg.Types, name); sel == nil {
				return false
			}
		}
		sig, ok := sel.Type().(*types.Signature)
		if !ok {
			return false
		}
		str := func(tu *types.Tuple) string {
			var parts []string
			for i := 0; i < tu.Len(); i++ {
				parts = append(parts, tu.At(i).Type().String())
			}
			return strings.Join(parts, ",")
		}
		return str(sig.Params()) == param && str(sig.Results()) == result
	}
	switch {
	case has("EncodeMsgpack", "*github.com/vmihailenco/msgpack/v5.Encoder", "error") &&
		has("DecodeMsgpack", "*github.com/vmihailenco/msgpack/v5.Decoder", "error"):
		return kindCustom
	case has("MarshalBinary", "", "[]byte,error") && has("UnmarshalBinary", "[]byte", "error"):
		return kindBinary
	case has("MarshalText", "", "[]byte,error") && has("UnmarshalText", "[]byte", "error"):
		return kindText
	}
	return ""
}

// literal writes a struct type literal identical to st (tags aside).
func (b *builder) literal(st *types.Struct) string {
	var parts []string
	for i := 0; i < st.NumFields(); i++ {
		v := st.Field(i)
		typ := types.TypeString(v.Type(), b.imp.qualifier)
		if v.Embedded() {
			parts = append(parts, typ)
		} else {
			parts = append(parts, v.Name()+" "+typ)
		}
	}
	return "struct{" + strings.Join(parts, "; ") + "}"
}

// mangle names a type for use in a helper's name: []CartItem → SliceCartItem.
func mangle(t types.Type, self *types.Package) string {
	switch t := types.Unalias(t).(type) {
	case *types.Named:
		if p := t.Obj().Pkg(); p != nil && p != self {
			return upperFirst(p.Name()) + "_" + t.Obj().Name()
		}
		return upperFirst(t.Obj().Name())
	case *types.Basic:
		return upperFirst(t.Name())
	case *types.Slice:
		return "Slice" + mangle(t.Elem(), self)
	case *types.Map:
		return "Map" + mangle(t.Key(), self) + mangle(t.Elem(), self)
	case *types.Pointer:
		return "Ptr" + mangle(t.Elem(), self)
	case *types.Array:
		return "Arr" + strconv.FormatInt(t.Len(), 10) + mangle(t.Elem(), self)
	}
	return "X"
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// containsItself reports whether the struct type self holds a value of
// itself, directly or through arrays and other structs (not through
// pointers, slices or maps, which break the cycle).
func containsItself(self types.Type, st *types.Struct, seen map[types.Type]bool) bool {
	for i := 0; i < st.NumFields(); i++ {
		t := types.Unalias(st.Field(i).Type())
		for {
			a, ok := t.Underlying().(*types.Array)
			if !ok {
				break
			}
			t = types.Unalias(a.Elem())
		}
		if types.Identical(t, self) {
			return true
		}
		if inner, ok := t.Underlying().(*types.Struct); ok && !seen[t] {
			seen[t] = true
			if containsItself(self, inner, seen) {
				return true
			}
		}
	}
	return false
}

func isTime(t types.Type) bool {
	n, ok := types.Unalias(t).(*types.Named)
	return ok && n.Obj().Pkg() != nil && n.Obj().Pkg().Path() == "time" && n.Obj().Name() == "Time"
}

// isRef reports whether a value of t shares memory with its copies, so a
// change through a getter's result reaches the session.
func isRef(t types.Type) bool {
	return isRefSeen(t, map[types.Type]bool{})
}

func isRefSeen(t types.Type, seen map[types.Type]bool) bool {
	if isTime(t) || seen[t] {
		return false
	}
	seen[t] = true
	switch u := t.Underlying().(type) {
	case *types.Slice, *types.Map, *types.Pointer:
		return true
	case *types.Array:
		return isRefSeen(u.Elem(), seen)
	case *types.Struct:
		for i := 0; i < u.NumFields(); i++ {
			if isRefSeen(u.Field(i).Type(), seen) {
				return true
			}
		}
	}
	return false
}

// hasLen reports whether len applies to values of t.
func hasLen(t types.Type) bool {
	switch u := t.Underlying().(type) {
	case *types.Basic:
		return u.Info()&types.IsString != 0
	case *types.Slice, *types.Map:
		return true
	}
	return false
}

// zeroTest is how omitempty tests a type's values for emptiness.
type zeroTest uint8

const (
	zeroNone   zeroTest = iota // no test: the type cannot be omitempty
	zeroIsZero                 // x.IsZero() (time.Time)
	zeroFalse                  // !x
	zeroString                 // x == ""
	zeroNumber                 // x == 0
	zeroLen                    // len(x) == 0
	zeroNil                    // x == nil
)

// emptyTest returns the omitempty test for t.
func emptyTest(t types.Type) zeroTest {
	if isTime(t) {
		return zeroIsZero
	}
	switch u := t.Underlying().(type) {
	case *types.Basic:
		switch {
		case u.Info()&types.IsBoolean != 0:
			return zeroFalse
		case u.Info()&types.IsString != 0:
			return zeroString
		}
		return zeroNumber
	case *types.Slice, *types.Map:
		return zeroLen
	case *types.Pointer:
		return zeroNil
	}
	return zeroNone
}

// test returns the expression "x is empty", or with set "x is not empty".
func (z zeroTest) test(x string, set bool) string {
	not, cmp := "", "=="
	if set {
		not, cmp = "!", "!="
	}
	switch z {
	case zeroIsZero:
		return not + x + ".IsZero()"
	case zeroFalse:
		if set {
			return x
		}
		return "!" + x
	case zeroString:
		return x + " " + cmp + ` ""`
	case zeroNumber:
		return x + " " + cmp + " 0"
	case zeroLen:
		return "len(" + x + ") " + cmp + " 0"
	case zeroNil:
		return x + " " + cmp + " nil"
	}
	return ""
}
