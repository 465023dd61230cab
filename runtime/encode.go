package runtime

import (
	"fmt"

	"github.com/vmihailenco/msgpack/v5"
)

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
		// A record written by this release has its keys in schema order:
		// one comparison finds the field, no hashing.
		i, known := next, next < nkeys && string(key) == sc.Keys[next]
		if !known && s.m != nil {
			i, known = s.m.index[string(key)]
		}
		if !known {
			s.unknown = append(s.unknown, entry{key: key, val: rec[v.start:v.end]})
			return
		}
		s.byField[i], next = v, i+1 // a key given twice: the last wins, as when decoding
	})
	return hdr, err
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
	c.buf = rec[:0] // keep what grew, if it grew
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
	c.buf = b[:0]
	_, err = enc.Writer().Write(b)
	return err
}
