// Package typed is a generated session type as the runtime sees it: the
// table that describes it (Schema), the handle its accessors call through
// (Handle) and the runtime's side of that handle (Session), and the
// encoding of its fields as one msgpack map, with the keys another version
// of the code stored kept as they are.
//
// Package wire re-exports the names generated code calls; the runtime
// uses the rest from here.
package typed

import "github.com/vmihailenco/msgpack/v5"

// Data is implemented by the session types sessiongen generates.
type Data interface {
	// EncodeMsgpack writes the stored fields as one msgpack map keyed by
	// field key.
	EncodeMsgpack(enc *msgpack.Encoder) error
	// DecodeMsgpack resets the stored fields to their zero values and
	// reads one msgpack map written by EncodeMsgpack (or by another
	// version of it: unknown keys are kept, missing ones stay zero).
	DecodeMsgpack(dec *msgpack.Decoder) error
}

// Schema describes a generated session type to the runtime. Generated
// code declares one per type; its address is the key under which the
// middleware puts the session in the request's context.
type Schema struct {
	// Name is the generated type's name, used in log lines.
	Name string
	// Keys holds the wire key of every stored field, by field index.
	Keys []string
	// Handle returns the handle embedded in d, for the runtime to bind.
	Handle func(d Data) *Handle
	// Decode reads n keys and their values from b[i:] into d's fields,
	// appends the keys d does not store, and their values, to unknown,
	// and returns the offset after them. The fields read are zero unless
	// a key comes twice; a value that does not fit leaves its field zero
	// and is an error. The runtime hands it a whole map, or the one key
	// and value it needs.
	Decode func(d Data, b []byte, i, n int, unknown []Entry) (int, []Entry, error)
	// Append appends the key and value of each field of d in r, in
	// schema order, and returns how many it appended: a field tagged
	// omitempty that holds its zero value appends nothing.
	Append func(d Data, b []byte, r Range) ([]byte, int, error)
	// Recursive is set when a stored type contains itself (type Tree
	// []Tree): decoding recurses as deep as the data nests, so the
	// nesting depth is checked first.
	Recursive bool
	// ConflictError lists the keys of fields tagged conflict=error.
	ConflictError []string
	// Owner, for a type with a field tagged owner, returns that field's
	// value as a string ("" for its zero value: no owner); OwnerField is
	// its index.
	Owner      func(d Data) string
	OwnerField int
}

// Range is the fields numbered From to To-1.
type Range struct{ From, To int }

// Has reports whether field i is in r.
func (r Range) Has(i int) bool { return r.From <= i && i < r.To }
