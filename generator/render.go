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

// render executes the templates for one file. The body is rendered first:
// the imports are those it used.
func render(m *Model) ([]byte, error) {
	im := m.imports
	w := func() string { return im.name(WirePath, "wire") }
	funcs := template.FuncMap{
		"imp":        im.name,
		"rt":         func() string { return im.name(RuntimePath, "runtime") },
		"wire":       w,
		"msgpack":    func() string { return im.name("github.com/vmihailenco/msgpack/v5", "msgpack") },
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
	t, err := template.New("sessiongen").Funcs(funcs).ParseFS(templates.FS, "*.tmpl")
	if err != nil {
		return nil, fmt.Errorf("parse templates: %w", err)
	}
	var body bytes.Buffer
	if err := t.ExecuteTemplate(&body, "body", m); err != nil {
		return nil, fmt.Errorf("render %s: %w", m.Path, err)
	}
	var out bytes.Buffer
	err = t.ExecuteTemplate(&out, "file", map[string]any{
		"Package": m.Package,
		"Imports": im.specs(),
		"Body":    body.String(),
	})
	if err != nil {
		return nil, fmt.Errorf("render %s: %w", m.Path, err)
	}
	return out.Bytes(), nil
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
