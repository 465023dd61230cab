package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/sessiongen/sessiongen/internal/storeurl"
	"github.com/sessiongen/sessiongen/runtime"
)

// output is what the command prints.
type output struct {
	Key        string            `json:"key"`
	Version    uint64            `json:"version"`
	Created    time.Time         `json:"created"`
	Issued     *time.Time        `json:"issued,omitempty"`
	Persistent bool              `json:"persistent"`
	Fields     map[string]*field `json:"fields"`
}

// field is one stored field: its value and, with -dir, what the code
// declares it as.
type field struct {
	Value   any    `json:"value"`
	Field   string `json:"field,omitempty"`
	Wire    string `json:"wire,omitempty"`
	Unknown bool   `json:"unknown,omitempty"` // -dir: the code has no field for the key
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sessiongen-inspect", flag.ContinueOnError)
	fs.SetOutput(stderr)
	store := fs.String("store", "", "the store `URL`: "+storeurl.Forms)
	dir := fs.String("dir", "", "the `package` directory whose generated file names the fields")
	typ := fs.String("type", "", "the session `type` to read from -dir, when it holds several")
	secretsEnv := fs.String("secrets-env", "", "the environment `variable` holding the manager's secrets, comma-separated, to open records sealed at rest (Config.EncryptAtRest); never on the command line")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: sessiongen-inspect -store URL [-dir ./pkg [-type Visit]] [-secrets-env NAME] < cookie-or-id")
		fmt.Fprintln(stderr, "The cookie's value or the session ID is read from standard input, where ps")
		fmt.Fprintln(stderr, "does not show it; given as the last argument (after --) it works too.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	value := fs.Arg(0)
	if fs.NArg() == 0 && stdin != nil {
		line, _ := bufio.NewReader(io.LimitReader(stdin, 4096)).ReadString('\n')
		value = strings.TrimSpace(line)
	}
	if *store == "" || fs.NArg() > 1 || value == "" {
		fs.Usage()
		return 2
	}
	var schema map[string]schemaLine
	if *dir != "" {
		var err error
		if schema, err = readSchema(*dir, *typ); err != nil {
			fmt.Fprintln(stderr, "sessiongen-inspect:", err)
			return 1
		}
	}
	b, _, closeStore, err := storeurl.OpenExisting(ctx, *store)
	if err != nil {
		fmt.Fprintln(stderr, "sessiongen-inspect:", err)
		return 1
	}
	defer closeStore()
	s, ok := b.(runtime.Store)
	if !ok {
		fmt.Fprintln(stderr, "sessiongen-inspect: sessions in cookies have no server-side record to inspect")
		return 2
	}
	var secrets [][]byte
	if *secretsEnv != "" {
		v, ok := os.LookupEnv(*secretsEnv)
		if !ok || v == "" {
			fmt.Fprintf(stderr, "sessiongen-inspect: -secrets-env %s: the variable is not set\n", *secretsEnv)
			return 2
		}
		for _, s := range strings.Split(v, ",") {
			secrets = append(secrets, []byte(s))
		}
	}
	rec, err := runtime.Inspect(ctx, s, value, secrets...)
	if err != nil {
		fmt.Fprintln(stderr, "sessiongen-inspect:", err)
		if errors.Is(err, runtime.ErrNotFound) {
			fmt.Fprintln(stderr, "sessiongen-inspect: no such session: it expired, was logged out, or the ID is another store's")
		}
		return 1
	}
	out := output{Key: rec.Key, Version: rec.Version, Created: rec.Created, Persistent: rec.Persistent, Fields: map[string]*field{}}
	if !rec.Issued.IsZero() {
		out.Issued = &rec.Issued
	}
	for k, v := range rec.Fields {
		f := &field{Value: v}
		if schema != nil {
			l, ok := schema[k]
			f.Field, f.Wire, f.Unknown = l.field, l.wire, !ok
		}
		out.Fields[k] = f
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		fmt.Fprintln(stderr, "sessiongen-inspect:", err)
		return 1
	}
	return 0
}

// schemaLine is one field of the schema a generated file records.
type schemaLine struct{ wire, field string }

const schemaMarker = "//sessiongen:schema "

// readSchema reads the schema recorded in the generated files of dir: of
// session typ, or of the only session there.
func readSchema(dir, typ string) (map[string]schemaLine, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*_session.go"))
	if err != nil {
		return nil, err
	}
	schemas := map[string]map[string]schemaLine{}
	for _, path := range files {
		if err := scanSchemas(path, schemas); err != nil {
			return nil, err
		}
	}
	names := slices.Sorted(maps.Keys(schemas))
	switch {
	case typ != "" && schemas[typ] != nil:
		return schemas[typ], nil
	case typ != "":
		return nil, fmt.Errorf("-type %s: no generated session of that name in %s (found: %s)", typ, dir, strings.Join(names, ", "))
	case len(names) == 1:
		return schemas[names[0]], nil
	case len(names) == 0:
		return nil, fmt.Errorf("no generated session in %s: -dir names the package holding the *_session.go files", dir)
	}
	return nil, fmt.Errorf("%s holds several sessions (%s): pick one with -type", dir, strings.Join(names, ", "))
}

// scanSchemas adds the schema blocks of one generated file to schemas.
func scanSchemas(path string, schemas map[string]map[string]schemaLine) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var cur map[string]schemaLine
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, schemaMarker):
			cur = map[string]schemaLine{}
			schemas[strings.TrimPrefix(l, schemaMarker)] = cur
		case cur != nil && strings.HasPrefix(l, "//\t"):
			if p := strings.Split(strings.TrimPrefix(l, "//\t"), "\t"); len(p) == 3 {
				cur[p[0]] = schemaLine{wire: p[1], field: p[2]}
			}
		default:
			cur = nil
		}
	}
	return sc.Err()
}
