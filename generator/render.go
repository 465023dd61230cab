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
	w := func() string { return pkg(wirePath) }
	return template.FuncMap{
		"imp": func(path, _ string) (string, error) {
			if n, ok := im.byPath[path]; ok {
				return n, nil
			}
			return "", fmt.Errorf("package %s is used but was not imported: settleImports must name it", path)
		},
		"rt":         func() string { return pkg(runtimePath) },
		"wire":       w,
		"msgpack":    func() string { return pkg(msgpackPath) },
		"lowerFirst": lowerFirst,
		"args":       args,
		"mpkey":      mpkey,
		"decode":     func(v *valueModel, x string) string { return decodeCall(w(), v, x) },
		"isStruct":   func(v *valueModel) bool { return v.codec != nil && v.codec.Kind == "struct" },
		"encFn":      func(v *valueModel) string { return encodeFunc(w(), v) },
		"decFn":      func(v *valueModel) string { return decodeFunc(w(), v) },
		"appendExpr": func(v *valueModel, b, x string) appendCall { return appendExpr(w(), v, b, x) },
		"ret":        func(v *valueModel, b, x string) string { return "return " + appendExpr(w(), v, b, x).Call() },
	}
}

// render executes the templates for one file, whose imports are settled
// first: the packages of the stored types, named while the model was
// built, and those the templates use.
func render(m *fileModel) ([]byte, error) {
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
func settleImports(m *fileModel) {
	im := m.imports
	im.name("context", "context")
	im.name(runtimePath, "runtime")
	im.name(wirePath, "wire")
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
	kindBool: "Bool", kindInt: "Int", kindUint: "Uint", kindFloat32: "Float32", kindFloat64: "Float64",
	kindString: "String", kindBytes: "Bytes", kindTime: "Time", kindCustom: "Custom", kindBinary: "Binary",
	kindText: "Text",
}

// decodeFunc names a function that decodes a value of v's type:
// func(b []byte, i int, p *T) (int, error).
func decodeFunc(wire string, v *valueModel) string {
	if v.Kind == kindCall {
		return "dec" + v.Func
	}
	return wire + ".Decode" + kindName[v.Kind]
}

// encodeFunc names a function that appends a value of v's type:
// func(b []byte, p *T) ([]byte, error).
func encodeFunc(wire string, v *valueModel) string {
	if v.Kind == kindCall {
		return "enc" + v.Func
	}
	return wire + ".Encode" + kindName[v.Kind]
}

// decodeCall returns a call that decodes the value at b[i:] into x, an
// addressable expression of v's type, and returns the offset after it
// and an error, leaving x zero on an error.
func decodeCall(wire string, v *valueModel, x string) string {
	return decodeFunc(wire, v) + "(b, i, " + addr(x) + ")"
}

// appendCall is an expression that appends a value: of type []byte, or
// ([]byte, error) when Fallible.
type appendCall struct {
	Expr     string
	Fallible bool
}

// Call is the expression as one of type ([]byte, error).
func (a appendCall) Call() string {
	if a.Fallible {
		return a.Expr
	}
	return a.Expr + ", nil"
}

// appendExpr returns an expression that appends x, of v's type, to b.
func appendExpr(wire string, v *valueModel, b, x string) appendCall {
	native := map[string]string{
		kindBool: "bool", kindInt: "int64", kindUint: "uint64", kindFloat32: "float32",
		kindFloat64: "float64", kindString: "string", kindBytes: "[]byte",
	}
	fn := map[string]string{
		kindBool: "AppendBool", kindInt: "AppendInt", kindUint: "AppendUint", kindFloat32: "AppendFloat32",
		kindFloat64: "AppendFloat64", kindString: "AppendString", kindBytes: "AppendBytes", kindTime: "AppendTime",
		kindCustom: "AppendCustom", kindBinary: "AppendBinary", kindText: "AppendText",
	}
	switch v.Kind {
	case kindCall:
		return appendCall{"enc" + v.Func + "(" + b + ", " + addr(x) + ")", true}
	case kindCustom, kindBinary, kindText:
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
