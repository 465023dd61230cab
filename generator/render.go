package generator

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"text/template"

	"github.com/sessiongen/sessiongen/runtime/wire"
	"github.com/sessiongen/sessiongen/templates"
)

// msgpackPath is the import path of the msgpack library generated code
// implements the interfaces of.
const msgpackPath = "github.com/vmihailenco/msgpack/v5"

// parsed holds the templates, parsed once. Their functions are bound per
// file, on a clone (see render); these stand-ins only let them parse.
var parsed = template.Must(template.New("sessiongen").Funcs(funcs(nil)).ParseFS(templates.FS, "*.tmpl"))

// funcs returns the template functions for a file whose imports im named.
func funcs(im *importer) template.FuncMap {
	pkg := func(path string) string { return im.byPath[path] }
	w := func() string { return pkg(WirePath) }
	return template.FuncMap{
		"imp": func(path, _ string) (string, error) {
			if n, ok := im.byPath[path]; ok {
				return n, nil
			}
			return "", fmt.Errorf("package %s is used but was not imported: settleImports must name it", path)
		},
		"rt":         func() string { return pkg(RuntimePath) },
		"wire":       w,
		"msgpack":    func() string { return pkg(msgpackPath) },
		"lowerFirst": lowerFirst,
		"args":       args,
		"mpkey":      mpkey,
		"decode":     func(v *Value, x string) string { return decodeCall(w(), v, x) },
		"encFn":      func(v *Value) string { return encodeFunc(w(), v) },
		"decFn":      func(v *Value) string { return decodeFunc(w(), v) },
		"appendExpr": func(v *Value, b, x string) appendCall { return appendExpr(w(), v, b, x) },
		"ret": func(v *Value, b, x string) string {
			e := appendExpr(w(), v, b, x)
			if e.Fallible {
				return "return " + e.Expr
			}
			return "return " + e.Expr + ", nil"
		},
	}
}

// render executes the templates for one file, whose imports are settled
// first: the packages of the stored types, named while the model was
// built, and those the templates use.
func render(m *Model) ([]byte, error) {
	settleImports(m)
	t, err := parsed.Clone()
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	err = t.Funcs(funcs(m.imports)).ExecuteTemplate(&out, "file", map[string]any{
		"Package": m.Package,
		"Imports": m.imports.specs(),
		"Model":   m,
	})
	if err != nil {
		return nil, fmt.Errorf("render %s: %w", m.Path, err)
	}
	return out.Bytes(), nil
}

// settleImports names every package the templates use for m.
func settleImports(m *Model) {
	im := m.imports
	im.name("context", "context")
	im.name(RuntimePath, "runtime")
	im.name(WirePath, "wire")
	im.name(msgpackPath, "msgpack")
	for _, c := range m.Codecs {
		if c.Kind == "map" {
			im.name("slices", "slices")
			im.name("cmp", "cmp")
		}
	}
	for _, s := range m.Sessions {
		for _, f := range s.Fields {
			if f.Max > 0 {
				im.name("fmt", "fmt")
			}
		}
	}
}

// args builds a map from key/value pairs, to pass several values to a template.
func args(kv ...any) map[string]any {
	m := make(map[string]any, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

// addr returns an expression for the address of x.
func addr(x string) string {
	if rest, ok := strings.CutPrefix(x, "*"); ok {
		return rest
	}
	return "&" + x
}

// kindName is how the wire package's Encode and Decode functions name
// each kind.
var kindName = map[string]string{
	KindBool: "Bool", KindInt: "Int", KindUint: "Uint", KindFloat32: "Float32", KindFloat64: "Float64",
	KindString: "String", KindBytes: "Bytes", KindTime: "Time", KindCustom: "Custom", KindBinary: "Binary",
	KindText: "Text",
}

// decodeFunc names a function that decodes a value of v's type:
// func(b []byte, i int, p *T) (int, error).
func decodeFunc(wire string, v *Value) string {
	if v.Kind == KindCall {
		return "dec" + v.Func
	}
	return wire + ".Decode" + kindName[v.Kind]
}

// encodeFunc names a function that appends a value of v's type:
// func(b []byte, p *T) ([]byte, error).
func encodeFunc(wire string, v *Value) string {
	if v.Kind == KindCall {
		return "enc" + v.Func
	}
	return wire + ".Encode" + kindName[v.Kind]
}

// decodeCall returns a call that decodes the value at b[i:] into x, an
// addressable expression of v's type, and returns the offset after it
// and an error, leaving x zero on an error.
func decodeCall(wire string, v *Value, x string) string {
	return decodeFunc(wire, v) + "(b, i, " + addr(x) + ")"
}

// appendCall is an expression that appends a value: of type []byte, or
// ([]byte, error) when Fallible.
type appendCall struct {
	Expr     string
	Fallible bool
}

// appendExpr returns an expression that appends x, of v's type, to b.
func appendExpr(wire string, v *Value, b, x string) appendCall {
	native := map[string]string{
		KindBool: "bool", KindInt: "int64", KindUint: "uint64", KindFloat32: "float32",
		KindFloat64: "float64", KindString: "string", KindBytes: "[]byte",
	}
	fn := map[string]string{
		KindBool: "AppendBool", KindInt: "AppendInt", KindUint: "AppendUint", KindFloat32: "AppendFloat32",
		KindFloat64: "AppendFloat64", KindString: "AppendString", KindBytes: "AppendBytes", KindTime: "AppendTime",
		KindCustom: "AppendCustom", KindBinary: "AppendBinary", KindText: "AppendText",
	}
	switch v.Kind {
	case KindCall:
		return appendCall{"enc" + v.Func + "(" + b + ", " + addr(x) + ")", true}
	case KindCustom, KindBinary, KindText:
		return appendCall{wire + "." + fn[v.Kind] + "(" + b + ", " + addr(x) + ")", true}
	}
	if n, ok := native[v.Kind]; ok && v.Type != n {
		x = n + "(" + x + ")"
	}
	return appendCall{wire + "." + fn[v.Kind] + "(" + b + ", " + x + ")", false}
}

// mpkey returns a Go string literal of key encoded as a msgpack str, as
// the runtime writes it.
func mpkey(key string) string { return strconv.Quote(string(wire.AppendString(nil, key))) }
