package generator

import (
	"go/ast"
	"go/token"
	"go/types"
	"slices"
	"strings"
	"unicode"

	"golang.org/x/tools/go/packages"
)

const directive = "//sessiongen:session"

// target is a struct to generate a session for.
type target struct {
	name  string // generated type name
	spec  *ast.TypeSpec
	st    *ast.StructType
	obj   *types.TypeName
	pos   token.Pos // of the directive, or of the type name with -type
	named bool      // name= was given
	doc   []string  // the struct's doc comment, without directives
}

// find returns the structs annotated with //sessiongen:session, plus those
// named by -type, in source order.
func find(pkg *packages.Package, typeNames []string, e *errs) []*target {
	var out []*target
	seen := map[string]bool{}
	for _, f := range pkg.Syntax {
		if isOurs(f) {
			continue
		}
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.TYPE {
				continue
			}
			for _, s := range gd.Specs {
				ts := s.(*ast.TypeSpec)
				doc := ts.Doc
				if doc == nil && len(gd.Specs) == 1 {
					doc = gd.Doc
				}
				dir, args, ok := findDirective(doc)
				if !ok && !slices.Contains(typeNames, ts.Name.Name) {
					if c, text := nearMiss(doc); c != nil {
						e.at(c.Pos(), "%q is not a sessiongen directive: did you mean %s (no space after //)?", text, directive)
					}
					continue
				}
				t := &target{spec: ts, pos: ts.Name.Pos(), doc: docLines(doc)}
				if ok {
					t.pos = dir.Pos()
					parseArgs(t, dir, args, e) // on error, go on: the fields may hold more
				}
				st, isStruct := ts.Type.(*ast.StructType)
				switch {
				case !isStruct:
					e.at(t.pos, "%s is not a struct type: //sessiongen:session goes on a struct", ts.Name.Name)
					continue
				case ts.TypeParams != nil:
					e.at(t.pos, "%s is generic: //sessiongen:session goes on a struct with concrete field types", ts.Name.Name)
					continue
				}
				t.st = st
				t.obj, _ = pkg.TypesInfo.Defs[ts.Name].(*types.TypeName)
				if t.obj == nil {
					e.at(ts.Name.Pos(), "%s has no type information", ts.Name.Name)
					continue
				}
				seen[ts.Name.Name] = true
				out = append(out, t)
			}
		}
	}
	for _, n := range typeNames {
		if !seen[n] {
			e.list = append(e.list, &Error{Msg: "-type " + n + ": no struct type " + n + " in package " + pkg.PkgPath})
		}
	}
	return out
}

// findDirective returns the //sessiongen:session line of a doc comment
// and the text after it. It reads the raw comment list: CommentGroup.Text
// drops directives.
func findDirective(doc *ast.CommentGroup) (*ast.Comment, string, bool) {
	if doc == nil {
		return nil, "", false
	}
	for _, c := range doc.List {
		rest, ok := strings.CutPrefix(c.Text, directive)
		if ok && (rest == "" || rest[0] == ' ' || rest[0] == '\t') {
			return c, strings.TrimSpace(rest), true
		}
	}
	return nil, "", false
}

// nearMiss returns a line of doc that looks like a misspelt
// //sessiongen:session directive ("// sessiongen:session": a space makes
// it a plain comment; "//sessiongen:sesion"; "//sessiongen:Session"), and
// its text up to the misspelt word.
func nearMiss(doc *ast.CommentGroup) (*ast.Comment, string) {
	if doc == nil {
		return nil, ""
	}
	want := strings.TrimPrefix(directive, "//")
	for _, c := range doc.List {
		words := strings.Fields(strings.TrimPrefix(c.Text, "//"))
		if len(words) == 0 {
			continue
		}
		w := strings.ToLower(words[0])
		if strings.HasPrefix(w, "sessiongen:") || editDistance(w, want) <= 3 {
			return c, c.Text[:strings.Index(c.Text, words[0])+len(words[0])]
		}
	}
	return nil, ""
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			sub := prev[j-1]
			if a[i-1] != b[j-1] {
				sub++
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, sub)
		}
		prev = cur
	}
	return prev[len(b)]
}

// parseArgs reads "name=X"; anything else is an error.
func parseArgs(t *target, c *ast.Comment, args string, e *errs) {
	for _, a := range strings.Fields(args) {
		k, v, _ := strings.Cut(a, "=")
		switch {
		case k == "name" && token.IsIdentifier(v) && token.IsExported(v):
			t.name, t.named = v, true
		case k == "name":
			e.at(c.Pos(), "name=%q is not an exported Go identifier: write name=Visit", v)
		default:
			e.at(c.Pos(), "unknown argument %q to //sessiongen:session (the only one is name=TypeName)", a)
		}
	}
}

// sessionName derives the generated name from the struct's: first letter
// upper-cased and a trailing "Data" removed (visitData → Visit).
func sessionName(structName string) string {
	r := []rune(strings.TrimSuffix(structName, "Data"))
	if len(r) == 0 {
		return ""
	}
	r[0] = unicode.ToUpper(r[0])
	return string(r)
}

// docLines returns the text of a doc comment, line by line, without its
// directives (//sessiongen:session, //go:generate) and trailing blank lines.
func docLines(doc *ast.CommentGroup) []string {
	text := strings.TrimSpace(doc.Text())
	if text == "" {
		return nil
	}
	return strings.Split(text, "\n")
}
