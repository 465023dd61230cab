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
	funcs := template.FuncMap{
		"imp":     im.name,
		"rt":      func() string { return im.name(RuntimePath, "runtime") },
		"wire":    func() string { return im.name(WirePath, "wire") },
		"msgpack": func() string { return im.name("github.com/vmihailenco/msgpack/v5", "msgpack") },
		"bits": func(v *Value) string {
			if v.Bits == 0 {
				return im.name(WirePath, "wire") + ".IntSize"
			}
			return strconv.Itoa(v.Bits)
		},
		"lowerFirst": func(s string) string { return strings.ToLower(s[:1]) + s[1:] },
		"args":       args,
		"addr":       addr,
		"to":         to,
		"from":       from,
		"mpkey":      mpkey,
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

// natives are the Go types msgpack's encoder takes and decoder returns for each kind.
var natives = map[string]string{
	KindBool: "bool", KindInt: "int64", KindUint: "uint64", KindFloat32: "float32",
	KindFloat64: "float64", KindString: "string", KindBytes: "[]byte",
}

// to converts x, of v's type, to the native type the encoder takes.
func to(native string, v *Value, x string) string {
	if v.Type == native {
		return x
	}
	return native + "(" + x + ")"
}

// from converts x, of the kind's native type, to v's type.
func from(v *Value, x string) string {
	if n, ok := natives[v.Kind]; !ok || v.Type == n {
		return x
	}
	return v.Type + "(" + x + ")"
}

// mpkey returns a Go string literal of key encoded as a msgpack str, as
// the runtime writes it.
func mpkey(key string) string { return strconv.Quote(string(wire.AppendString(nil, key))) }
