package runtime

import (
	"fmt"

	"github.com/sessiongen/sessiongen/runtime/wire"
	"github.com/vmihailenco/msgpack/v5"
)

// indexRecord validates rec and indexes its fields without decoding any:
// s.byField[i] locates the value of field i in rec (zero when rec lacks
// it), and the fields this code does not know go to s.unknown, to be
// written back untouched. Call with the lock held.
func (s *session) indexRecord(rec []byte, sc *wire.Schema) (header, error) {
	nkeys := len(sc.Keys)
	if nkeys <= len(s.locs) {
		s.byField = s.locs[:nkeys] // no allocation for most sessions
	} else if cap(s.byField) < nkeys {
		s.byField = make([]loc, nkeys)
	}
	s.byField = s.byField[:nkeys]
	clear(s.byField)
	s.unknown = s.unknown[:0]
	s.indexed = rec
	next := 0
	hdr, _, err := checkRecord(rec, func(key []byte, v loc) {
		i := s.fieldOf(sc, key, next)
		if i < 0 {
			s.unknown = append(s.unknown, entry{Key: key, Val: rec[v.start:v.end]})
			return
		}
		s.byField[i], next = v, i+1 // a key given twice: the last wins, as when decoding
	})
	return hdr, err
}

// fieldOf returns the index of the field stored under key, or -1. A
// record written by this release has its keys in schema order: trying
// next first, one comparison finds the field.
func (s *session) fieldOf(sc *wire.Schema, key []byte, next int) int {
	if next < len(sc.Keys) && sc.Keys[next] == string(key) {
		return next
	}
	if s.m != nil {
		if i, ok := s.m.index[string(key)]; ok {
			return i
		}
		return -1
	}
	for i, k := range sc.Keys { // a session outside a manager
		if k == string(key) {
			return i
		}
	}
	return -1
}

// raw returns the value of field i in the indexed record, nil if absent.
func (s *session) raw(i int) []byte {
	if v := s.byField[i]; v.start != 0 {
		return s.indexed[v.start:v.end]
	}
	return nil
}

// undecoded reports whether field i was never decoded, and returns its
// bytes in the loaded record (nil when absent): wire.AppendFields copies such
// a field as it is.
func (s *session) undecoded(i int) ([]byte, bool) {
	if !s.lazy || s.decoded.has(i) {
		return nil, false
	}
	return s.raw(i), true
}

// appendRecord encodes the session into a record with header h, in a
// pooled buffer: the result is valid until put is called. Call with the
// lock held.
func (s *session) appendRecord(h header) (rec []byte, put func(), err error) {
	buf := wire.Buffers.Get().(*wire.Buffer)
	rec, err = wire.AppendFields(appendHeader(buf.B[:0], h), &s.m.schema, s.data, s.undecoded, s.unknown)
	if err != nil {
		wire.Buffers.Put(buf)
		return nil, nil, fmt.Errorf("sessiongen: encode session: %w", err)
	}
	buf.Keep(rec)
	return rec, func() { wire.Buffers.Put(buf) }, nil
}

// Encode writes d's stored fields to enc as one msgpack map keyed by
// field key, followed by the fields another version of the code stored:
// generated EncodeMsgpack methods call it through their handle.
func (s *session) Encode(enc *msgpack.Encoder, sc *wire.Schema, d wire.Data) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return wire.EncodeTo(enc, sc, d, s.undecoded, s.unknown)
}

// Decode reads one msgpack map written by Encode into d, whose fields
// the caller has zeroed: generated DecodeMsgpack methods call it through
// their handle. Unknown keys are kept, to be written back; a value that
// does not fit its field is an error. (The runtime itself decodes stored
// records field by field, and drops such a value with a log line.) It
// replaces what the session holds: no other goroutine may use the session
// meanwhile (the runtime calls it with the lock held).
func (s *session) Decode(dec *msgpack.Decoder, sc *wire.Schema, d wire.Data) (err error) {
	s.lazy = false
	s.unknown, err = wire.DecodeFrom(dec, sc, d, s.unknown[:0])
	return err
}
