package runtime

import (
	"fmt"

	"github.com/sessiongen/sessiongen/runtime/wire"
	"github.com/vmihailenco/msgpack/v5"
)

// indexRecord validates rec and indexes its fields without decoding any.
// Call with the lock held.
func (s *session) indexRecord(rec []byte) (header, error) {
	return s.fields.index(rec, s.m.schema.Keys, s.m.index)
}

// undecoded reports whether field i was never decoded, and returns its
// bytes in the loaded record (nil when absent): wire.AppendFields copies such
// a field as it is.
func (s *session) undecoded(i int) ([]byte, bool) {
	if !s.lazy || s.decoded.has(i) {
		return nil, false
	}
	return s.fields.raw(i), true
}

// appendRecord encodes the session into a record with header h, in a
// pooled buffer: the result is valid until put is called. Call with the
// lock held.
func (s *session) appendRecord(h header) (rec []byte, put func(), err error) {
	buf := wire.Buffers.Get().(*wire.Buffer)
	rec, err = wire.AppendFields(appendHeader(buf.B[:0], h), &s.m.schema, s.data, s.undecoded, s.fields.unknown)
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
	return wire.EncodeTo(enc, sc, d, s.undecoded, s.fields.unknown)
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
	s.fields.unknown, err = wire.DecodeFrom(dec, sc, d, s.fields.unknown[:0])
	return err
}

// decodeValue decodes val, a stored value of field i held apart from its
// key, into d: the generated decoder reads keys and values, so the key is
// put in front of a copy.
func (m *Manager) decodeValue(d wire.Data, i int, val []byte) error {
	key := m.schema.Keys[i]
	e := append(wire.AppendString(make([]byte, 0, len(key)+5+len(val)), key), val...)
	_, _, err := m.schema.Decode(d, e, 0, 1, nil)
	return err
}
