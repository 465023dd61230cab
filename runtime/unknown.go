package runtime

import (
	"bytes"

	"github.com/vmihailenco/msgpack/v5"
)

// KeepUnknown keeps a field this code does not know (written by another
// version of the application), so that it is written back untouched.
func (s *Session) KeepUnknown(key []byte, dec *msgpack.Decoder) error {
	if r, ok := dec.Buffered().(*Reader); ok {
		start := r.i
		if err := dec.Skip(); err != nil {
			return err
		}
		s.unknown = append(s.unknown, entry{key: key, val: r.b[start:r.i]})
		return nil
	}
	raw, err := dec.DecodeRaw()
	if err != nil {
		return err
	}
	s.unknown = append(s.unknown, entry{key: bytes.Clone(key), val: raw})
	return nil
}

// ResetUnknown forgets the unknown fields and any pending lazy decoding;
// generated decoders call it first, since they replace every field.
func (s *Session) ResetUnknown() {
	s.unknown = s.unknown[:0]
	s.lazy = false
}

// UnknownLen returns the number of unknown fields kept.
func (s *Session) UnknownLen() int { return len(s.unknown) }

// EncodeUnknown writes the unknown fields back as they were read.
func (s *Session) EncodeUnknown(enc *msgpack.Encoder) error {
	for _, e := range s.unknown {
		if err := enc.EncodeString(string(e.key)); err != nil {
			return err
		}
		if _, err := enc.Writer().Write(e.val); err != nil {
			return err
		}
	}
	return nil
}

// Mark returns the position of dec's next value, for DropField; -1 when
// dec does not read from the runtime's Reader.
func (s *Session) Mark(dec *msgpack.Decoder) int {
	if r, ok := dec.Buffered().(*Reader); ok {
		return r.i
	}
	return -1
}

// DropField handles a field whose stored value does not decode into its
// type (the type changed between releases): it skips the value from mark
// and logs, so that the field becomes its zero value and the rest of the
// session survives. It reports false, and the record is then corrupt, when
// it cannot skip: dec does not read from the runtime's Reader.
func (s *Session) DropField(dec *msgpack.Decoder, mark int, key []byte, err error) bool {
	r, ok := dec.Buffered().(*Reader)
	if !ok || mark < 0 || mark > len(r.b) {
		return false
	}
	r.i = mark
	if dec.Skip() != nil {
		return false
	}
	s.logDropped(key, err)
	return true
}

// logDropped counts and logs a field that reads as its zero value because
// its stored value no longer decodes.
func (s *Session) logDropped(key []byte, err error) {
	if s.m == nil {
		return
	}
	s.m.stats.dropped.Add(1)
	s.m.log.Warn("sessiongen: a stored field no longer decodes into its type; it reads as its zero value", "type", s.m.schema.Name, "key", string(key), "err", err)
}
