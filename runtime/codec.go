package runtime

import (
	"fmt"
	"strconv"

	"github.com/vmihailenco/msgpack/v5"
)

// Data is implemented by the session types sessiongen generates. The
// runtime stores a session as the msgpack map these methods write and read.
type Data interface {
	// EncodeMsgpack writes the stored fields as one msgpack map keyed by
	// field key.
	EncodeMsgpack(enc *msgpack.Encoder) error
	// DecodeMsgpack resets the stored fields to their zero values and
	// reads one msgpack map written by EncodeMsgpack (or by another
	// version of it: unknown keys are kept, missing ones stay zero).
	DecodeMsgpack(dec *msgpack.Decoder) error
}

// IntSize is the size in bits of int and uint, for generated decoders.
const IntSize = strconv.IntSize

// GeneratedCodeV2 is referred to by generated code, so that code generated
// for an incompatible runtime fails to compile instead of misbehaving.
const GeneratedCodeV2 = 2

// indexRecord validates rec and indexes its fields without decoding any:
// s.byField[i] locates the value of field i in rec (zero when rec lacks
// it), and the fields this code does not know go to s.unknown, to be
// written back untouched. Call with the lock held.
func (s *Session) indexRecord(rec []byte, sc *Schema) (header, error) {
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
			s.unknown = append(s.unknown, entry{key: key, val: rec[v.start:v.end]})
			return
		}
		s.byField[i], next = v, i+1 // a key given twice: the last wins, as when decoding
	})
	return hdr, err
}

// fieldOf returns the index of the field stored under key, or -1. A
// record written by this release has its keys in schema order: trying
// next first, one comparison finds the field.
func (s *Session) fieldOf(sc *Schema, key []byte, next int) int {
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
func (s *Session) raw(i int) []byte {
	if v := s.byField[i]; v.start != 0 {
		return s.indexed[v.start:v.end]
	}
	return nil
}

// appendMap appends the session's fields as one msgpack map, in schema
// order, then the unknown fields. A field the request never decoded is
// copied from the loaded record as it was, not decoded and re-encoded:
// a write that changes one field encodes one field.
func (s *Session) appendMap(b []byte, sc *Schema, d Data) ([]byte, error) {
	// The number of entries is known only at the end (an omitempty field
	// holding its zero value writes nothing): leave room for the largest
	// map header, then move what precedes it up to close the gap.
	start := len(b)
	b = append(b, 0, 0, 0, 0, 0)
	n := 0
	for i, key := range sc.Keys {
		if s.lazy && !s.decoded.has(i) {
			if v := s.raw(i); v != nil {
				b = append(AppendString(b, key), v...)
				n++
			}
			continue
		}
		before := len(b)
		var err error
		if b, err = sc.AppendField(d, b, i); err != nil {
			return nil, fmt.Errorf("field %q: %w", key, err)
		}
		if len(b) > before {
			n++
		}
	}
	for _, e := range s.unknown {
		b = append(appendStr(b, e.key), e.val...)
		n++
	}
	var hdr [5]byte
	h := AppendMapLen(hdr[:0], n)
	gap := 5 - len(h)
	copy(b[gap:], b[:start])
	copy(b[start+gap:], h)
	return b[gap:], nil
}

// appendRecord encodes the session into a record with header h, in a
// pooled buffer: the result is valid until put is called. Call with the
// lock held.
func (s *Session) appendRecord(h header) (rec []byte, put func(), err error) {
	c := codecPool.Get().(*codecState)
	rec, err = s.appendMap(appendHeader(c.buf[:0], h), &s.m.schema, s.data)
	if err != nil {
		codecPool.Put(c)
		return nil, nil, fmt.Errorf("sessiongen: encode session: %w", err)
	}
	c.keep(rec)
	return rec, func() { codecPool.Put(c) }, nil
}

// Encode writes d's stored fields to enc as one msgpack map keyed by
// field key, followed by the fields another version of the code stored:
// generated EncodeMsgpack methods call it with their schema.
func (s *Session) Encode(enc *msgpack.Encoder, sc *Schema, d Data) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := codecPool.Get().(*codecState)
	defer codecPool.Put(c)
	b, err := s.appendMap(c.buf[:0], sc, d)
	if err != nil {
		return err
	}
	c.keep(b)
	_, err = enc.Writer().Write(b)
	return err
}

// Decode reads one msgpack map written by Encode into d, whose fields
// the caller has zeroed: generated DecodeMsgpack methods call it with
// their schema. Unknown keys are kept, to be written back; a value that
// does not fit its field is an error. (The runtime itself decodes stored
// records field by field, and drops such a value with a log line.) It
// replaces what the session holds: no other goroutine may use the session
// meanwhile (the runtime calls it with the lock held).
func (s *Session) Decode(dec *msgpack.Decoder, sc *Schema, d Data) (err error) {
	var b []byte
	r, inPlace := dec.Buffered().(*Reader)
	if inPlace {
		b = r.b[r.i:] // the runtime's own reader: decode in place, no copy
	} else if b, err = dec.DecodeRaw(); err != nil {
		return err
	}
	if sc.Recursive {
		// Decoding recurses as deep as the data nests: check the depth,
		// and every length, first.
		if _, err := skip(b, 0, 1); err != nil {
			return err
		}
	}
	var i int
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: decoder panicked: %v", ErrCorrupt, p)
		}
		if inPlace {
			r.i += i
		}
	}()
	s.lazy = false
	s.unknown = s.unknown[:0]
	n, i, err := ReadMapLen(b, 0)
	for next := 0; err == nil && n > 0; n-- {
		var key []byte
		if key, i, err = ReadKey(b, i); err != nil {
			break
		}
		f := s.fieldOf(sc, key, next)
		if f < 0 {
			start := i
			i, err = skip(b, i, 1)
			s.unknown = append(s.unknown, entry{key: key, val: b[start:i]})
			continue
		}
		if i, err = sc.DecodeField(d, b, i, f); err != nil {
			return fmt.Errorf("field %q: %w", key, err)
		}
		next = f + 1
	}
	return err
}
