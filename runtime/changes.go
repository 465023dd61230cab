package runtime

import (
	"bytes"

	"github.com/sessiongen/sessiongen/runtime/internal/mp"
	"github.com/sessiongen/sessiongen/runtime/wire"
)

// changes is what a request changed in its session since the baseline:
// the fields set or handed out, the updates to replay after a conflict,
// and the intents that take effect at the next save.
type changes struct {
	dirty    bits     // fields set
	read     bits     // reference-typed fields handed out by a getter
	tx       *fieldTx // Update calls to replay on a newer value after a conflict; nil without any
	rewrite  bool     // the whole record goes under a new ID (Regenerate)
	remember remember // RememberMe's choice, when it changes the cookie
	touch    bool     // Touch was called
	seen     bool     // the write moves an owned session's idle deadline, and stamps its use
	drop     string   // the store key of a record to delete at the next flush (Destroy, Regenerate)
	dropVer  uint64   // the version of the record under drop as loaded; 0 when unknown
	ended    ending   // why drop ends, when that is an event
}

// ending is a session that ends at the next flush, as an event: its kind,
// and the owner it had.
type ending struct {
	kind  EventKind // 0: no event (Regenerate's old record, a corrupt one)
	owner string
}

// remember is a RememberMe the record does not hold yet.
type remember uint8

const (
	rememberUnset remember = iota
	rememberOn
	rememberOff
)

func (c *changes) rememberMe(on bool) {
	c.remember = rememberOff
	if on {
		c.remember = rememberOn
	}
}

// header returns h with the request's RememberMe applied.
func (c *changes) header(h header) header {
	switch c.remember {
	case rememberOn:
		h.flags |= flagPersistent
	case rememberOff:
		h.flags &^= flagPersistent
	}
	return h
}

// pending reports whether the record must be written.
func (c *changes) pending() bool {
	return c.rewrite || c.remember != rememberUnset || c.dirty.any()
}

// markBlind records a blind write of field i: a setter, or a change in
// place. It is saved as it stands, not replayed.
func (c *changes) markBlind(i int) {
	c.dirty.set(i)
	c.tx.markBlind(i)
}

// saved forgets what the request changed, once it is in the store; what
// is left to delete and a Touch stay for the flush to carry out.
func (c *changes) saved() {
	c.dirty.clear()
	c.read.clear()
	c.tx, c.rewrite, c.remember = nil, false, rememberUnset
}

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

// changedFrom reports whether field i of d no longer encodes to was (its
// msgpack value, nil for an omitted field). c, if not nil, lends a buffer.
func changedFrom(sc *wire.Schema, d wire.Data, i int, was []byte, c *mp.Buffer) bool {
	var buf []byte
	if c != nil {
		buf = c.B[:0]
	}
	now, err := fieldValue(sc, d, i, buf)
	if c != nil && now != nil {
		c.Keep(now[:cap(now)])
	}
	return err != nil || !bytes.Equal(now, was)
}

// fieldValue encodes field i of d into buf and returns its value without
// the key; nil when the field is omitted (omitempty and empty).
func fieldValue(sc *wire.Schema, d wire.Data, i int, buf []byte) ([]byte, error) {
	b, _, err := sc.Append(d, buf[:0], wire.Range{From: i, To: i + 1})
	if err != nil || len(b) == 0 {
		return nil, err
	}
	_, j, err := mp.ReadKey(b, 0)
	return b[j:], err
}
