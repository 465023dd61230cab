package runtime

import (
	"bytes"

	"github.com/sessiongen/sessiongen/runtime/wire"
)

// fieldTx is what a request's Update calls leave to replay. The first
// Update of a request allocates it, so that requests that never call one
// carry nothing for it.
type fieldTx struct {
	blind   bits          // fields also written blind (a setter, a change in place): not replayable
	updates []fieldUpdate // in order
}

// fieldUpdate is one call of a generated UpdateF method: apply changes the
// field again, on whatever value it holds; after is the field's value
// (msgpack, without its key) right after the call, the baseline against
// which a later change in place is detected.
type fieldUpdate struct {
	i     int
	apply func()
	after []byte
}

// last returns the request's last update of field i, or nil.
func (tx *fieldTx) last(i int) *fieldUpdate {
	if tx == nil {
		return nil
	}
	for j := len(tx.updates) - 1; j >= 0; j-- {
		if tx.updates[j].i == i {
			return &tx.updates[j]
		}
	}
	return nil
}

// replayable reports whether field i changed through Update calls only.
func (tx *fieldTx) replayable(i int) bool {
	return tx != nil && !tx.blind.has(i) && tx.last(i) != nil
}

// markBlind records a blind write of field i, if the request has updates
// to replay at all.
func (tx *fieldTx) markBlind(i int) {
	if tx != nil {
		tx.blind.set(i)
	}
}

// Update applies an UpdateF call's change to field i and remembers it.
// When the save's compare-and-swap finds that another request changed the
// field since this one loaded it, the request's updates of the field are
// applied again, in order, to the newer value: ten overlapping requests
// that each append an item keep ten items. A field the request also wrote
// blind (a setter, or a change made in place through a getter) is saved as
// the request left it instead, and the later writer wins. Generated Update
// methods call it with the lock held; apply must not call the session.
func (s *session) Update(i int, apply func()) {
	if s.tx == nil {
		s.tx = new(fieldTx)
	}
	// Dirty with no update recorded: a setter or a detected change in
	// place came first. Read and changed since: a change in place did.
	if s.dirty.has(i) && s.tx.last(i) == nil || s.read.has(i) && s.changedInPlace(i, nil) {
		s.tx.blind.set(i)
	}
	apply()
	s.dirty.set(i)
	if s.tx.blind.has(i) || s.m == nil {
		return
	}
	v, _ := s.fieldValue(i, nil)
	s.tx.updates = append(s.tx.updates, fieldUpdate{i: i, apply: apply, after: bytes.Clone(v)})
}

// fieldValue encodes field i into buf and returns its value without the
// key; nil when the field is omitted (omitempty and empty).
func (s *session) fieldValue(i int, buf []byte) ([]byte, error) {
	b, _, err := s.m.schema.Append(s.data, buf[:0], wire.Range{From: i, To: i + 1})
	if err != nil || len(b) == 0 {
		return nil, err
	}
	_, j, err := wire.ReadKey(b, 0)
	return b[j:], err
}

// changedInPlace reports whether field i, handed out by a getter, no
// longer encodes to its baseline: its value right after the request's
// last update of it, else its value in the loaded record. A session with
// no record holds zero values and what setters and updates put there; a
// zero value offers nothing to change in place (its slices, maps and
// pointers are nil). c, if not nil, lends a buffer.
func (s *session) changedInPlace(i int, c *wire.Buffer) bool {
	var was []byte
	if u := s.tx.last(i); u != nil {
		was = u.after
	} else if s.rec != nil {
		was = s.fields.raw(i)
	} else {
		return s.stored // saved earlier in this request, baseline dropped: assume changed
	}
	var buf []byte
	if c != nil {
		buf = c.B[:0]
	}
	now, err := s.fieldValue(i, buf)
	if c != nil && now != nil {
		c.Keep(now[:cap(now)])
	}
	return err != nil || !bytes.Equal(now, was)
}

// replay sets field i to theirs (another request's newer value, msgpack;
// nil when absent: zero), applies the request's updates of it again, in
// order, and returns the field's entry as it then stands (false when the
// field is omitted).
func (s *session) replay(i int, theirs []byte) (entry, bool) {
	val := theirs
	if val == nil {
		val = []byte{0xc0} // nil: every decoder leaves the field zero
	}
	if err := s.m.decodeValue(s.data, i, val); err != nil && theirs != nil {
		s.logDropped(s.m.schema.Keys[i], err)
	}
	s.decoded.set(i)
	for _, u := range s.tx.updates {
		if u.i == i {
			u.apply()
		}
	}
	v, err := s.fieldValue(i, nil)
	s.tx.last(i).after = v
	if err != nil || v == nil {
		return entry{}, false
	}
	return entry{Key: []byte(s.m.schema.Keys[i]), Val: v}, true
}

// saved forgets what the request changed, once it is in the store.
func (s *session) saved() {
	s.dirty.clear()
	s.read.clear()
	s.tx = nil
}
