package runtime

import (
	"fmt"

	"github.com/sessiongen/sessiongen/runtime/internal/mp"
	"github.com/sessiongen/sessiongen/runtime/internal/typed"
	"github.com/sessiongen/sessiongen/runtime/wire"
)

// baseline is what a request loaded: the record under the session's key,
// as loaded or as the request last wrote it, indexed and decoded field by
// field on first use. It is the base that in-place changes are detected
// against and that merges start from.
type baseline struct {
	hdr     header // the record's header; a new session's defaults before its first write
	ver     uint64 // the record's version; 0 when unknown (written by this request)
	rec     []byte // the record; nil when there is none to compare with
	fields  fields // rec, indexed
	decoded bits   // fields already decoded from the index
	lazy    bool   // fields are decoded from the index on first use
	stored  bool   // a record exists under the session's key, as far as we know
	err     error  // why the session could not be loaded; nil when it was
}

// open validates and indexes rec, decoding nothing yet: fields are
// decoded on first use (need); a save copies the others as they are.
func (b *baseline) open(rec []byte, keys []string, index map[string]int) (header, error) {
	hdr, err := b.fields.index(rec, keys, index)
	b.lazy = err == nil
	b.decoded.clear()
	return hdr, err
}

// reset forgets the record: the session is a new one, with header flags.
// The generated value is zeroed apart (mp.Zero), which also ends lazy
// decoding.
func (b *baseline) reset(flags uint64) {
	b.hdr, b.ver, b.rec, b.stored = header{flags: flags}, 0, nil, false
}

// need marks field i decoded and returns its key and value in the record
// when it is still to be decoded from it; nil when it was decoded
// already or the record lacks it.
func (b *baseline) need(i int) []byte {
	if !b.lazy || b.decoded.has(i) {
		return nil
	}
	b.decoded.set(i)
	return b.fields.entry(i)
}

// undecoded reports whether field i was never decoded, and returns its
// bytes in the loaded record (nil when absent): typed.AppendFields copies
// such a field as it is.
func (b *baseline) undecoded(i int) ([]byte, bool) {
	if !b.lazy || b.decoded.has(i) {
		return nil, false
	}
	return b.fields.raw(i), true
}

// appendRecord encodes d, with the fields of the baseline it never
// decoded copied as they are, into a record with header h, in a pooled
// buffer: the result is valid until put is called.
func (b *baseline) appendRecord(sc *wire.Schema, d wire.Data, h header) (rec []byte, put func(), err error) {
	buf := mp.Buffers.Get().(*mp.Buffer)
	rec, err = typed.AppendFields(appendHeader(buf.B[:0], h), sc, d, b.undecoded, b.fields.unknown)
	if err != nil {
		mp.Buffers.Put(buf)
		return nil, nil, fmt.Errorf("sessiongen: encode session: %w", err)
	}
	buf.Keep(rec)
	return rec, func() { mp.Buffers.Put(buf) }, nil
}
