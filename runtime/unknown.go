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

// ResetUnknown forgets the unknown fields; generated decoders call it first.
func (s *Session) ResetUnknown() { s.unknown = s.unknown[:0] }

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
