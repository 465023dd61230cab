package runtime

import (
	"bytes"

	"github.com/sessiongen/sessiongen/runtime/internal/mp"
	"github.com/sessiongen/sessiongen/runtime/internal/typed"
	"github.com/sessiongen/sessiongen/runtime/wire"
	"github.com/vmihailenco/msgpack/v5"
)

// The accessors' side of a session: what the generated getters, setters
// and Update methods call through their handle, with the lock held.

// Need loads the session on first use and decodes field i from the
// loaded record if it has not been yet. Generated accessors call it with
// the lock held.
func (s *session) Need(i int) {
	s.ensureLoaded()
	e := s.base.need(i)
	if e == nil {
		return // decoded already, or not in the record: zero
	}
	defer s.recoverDecoder()
	if _, _, err := s.m.schema.Decode(s.data, e, 0, 1, nil); err != nil {
		// The value no longer fits its type (it changed between
		// releases): the field reads as zero and is saved as zero if the
		// session is written.
		s.m.logDropped(&s.bg, s.m.schema.Keys[i], err)
	}
}

// MarkDirty records that a setter changed field i: a blind write, saved
// as it stands even when another request changed the field meanwhile.
// Call with the lock held.
func (s *session) MarkDirty(i int) { s.chg.markBlind(i) }

// MarkRead records that a getter handed out field i, a reference type that
// can be changed in place; the change is detected when the session is
// saved. Call with the lock held.
func (s *session) MarkRead(i int) { s.chg.read.set(i) }

// Update applies an UpdateF call's change to field i and remembers it.
// When the save's compare-and-swap finds that another request changed the
// field since this one loaded it, the request's updates of the field are
// applied again, in order, to the newer value: ten overlapping requests
// that each append an item keep ten items. A field the request also wrote
// blind (a setter, or a change made in place through a getter) is saved as
// the request left it instead, and the later writer wins. Generated Update
// methods call it with the lock held; apply must not call the session.
func (s *session) Update(i int, apply func()) {
	c := &s.chg
	if c.tx == nil {
		c.tx = new(fieldTx)
	}
	// Dirty with no update recorded: a setter or a detected change in
	// place came first. Read and changed since: a change in place did.
	if c.dirty.has(i) && c.tx.last(i) == nil || c.read.has(i) && s.changedInPlace(i, nil) {
		c.tx.blind.set(i)
	}
	apply()
	c.dirty.set(i)
	if c.tx.blind.has(i) || s.m == nil {
		return
	}
	v, _ := fieldValue(&s.m.schema, s.data, i, nil)
	c.tx.updates = append(c.tx.updates, fieldUpdate{i: i, apply: apply, after: bytes.Clone(v)})
}

// detectInPlace marks dirty, and blind, the reference-typed fields that
// a getter handed out and that were changed in place since the load (or
// since the request's last update of them). It costs nothing unless such
// a getter was called. Encoding is deterministic (map keys sorted), so a
// field that did not change encodes to the very bytes it was compared
// with: one encode and one comparison per field handed out. Call with the
// lock held.
func (s *session) detectInPlace() {
	if !s.chg.read.any() {
		return
	}
	c := mp.Buffers.Get().(*mp.Buffer)
	defer mp.Buffers.Put(c)
	for i := range s.m.schema.Keys {
		if s.chg.read.has(i) && s.changedInPlace(i, c) {
			s.chg.markBlind(i)
		}
	}
	s.chg.read.clear()
}

// changedInPlace reports whether field i, handed out by a getter, no
// longer encodes to its baseline: its value right after the request's
// last update of it, else its value in the loaded record. A session with
// no record holds zero values and what setters and updates put there; a
// zero value offers nothing to change in place (its slices, maps and
// pointers are nil). c, if not nil, lends a buffer.
func (s *session) changedInPlace(i int, c *mp.Buffer) bool {
	var was []byte
	if u := s.chg.tx.last(i); u != nil {
		was = u.after
	} else if s.base.rec != nil {
		was = s.base.fields.raw(i)
	} else {
		return s.base.stored // saved earlier in this request, baseline dropped: assume changed
	}
	return changedFrom(&s.m.schema, s.data, i, was, c)
}

// Encode writes d's stored fields to enc as one msgpack map keyed by
// field key, followed by the fields another version of the code stored:
// generated EncodeMsgpack methods call it through their handle.
func (s *session) Encode(enc *msgpack.Encoder, sc *wire.Schema, d wire.Data) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return typed.EncodeTo(enc, sc, d, s.base.undecoded, s.base.fields.unknown)
}

// Decode reads one msgpack map written by Encode into d, whose fields
// the caller has zeroed: generated DecodeMsgpack methods call it through
// their handle. Unknown keys are kept, to be written back; a value that
// does not fit its field is an error. (The runtime itself decodes stored
// records field by field, and drops such a value with a log line.) It
// replaces what the session holds: no other goroutine may use the session
// meanwhile (the runtime calls it with the lock held).
func (s *session) Decode(dec *msgpack.Decoder, sc *wire.Schema, d wire.Data) (err error) {
	s.base.lazy = false
	s.base.fields.unknown, err = typed.DecodeFrom(dec, sc, d, s.base.fields.unknown[:0])
	return err
}
