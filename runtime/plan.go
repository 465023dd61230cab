package runtime

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"time"

	"github.com/sessiongen/sessiongen/runtime/internal/mp"
	"github.com/sessiongen/sessiongen/runtime/wire"
)

// A save is planned here, by functions of what the request loaded (the
// baseline) and what it changed, and carried out in save.go.

// plan is what a flush does.
type plan struct {
	write bool   // write the record
	drop  string // delete the record under this key (left by Destroy or Regenerate)
	touch touch  // move the idle deadline of an unchanged record
}

// touch is whether an unchanged session's idle deadline moves.
type touch uint8

const (
	touchNever touch = iota // nothing stored, or the record is written anyway
	touchIfDue              // when this process has not moved it lately (touchCache)
	touchNow                // Touch was called
)

// planFlush decides what a flush does, once any renewal ran.
func planFlush(b *baseline, c *changes) plan {
	p := plan{write: c.pending(), drop: c.drop}
	switch {
	case p.write || !b.stored:
	case c.touch:
		p.touch = touchNow
	default:
		p.touch = touchIfDue
	}
	return p
}

// renewDue reports whether the session's ID is older than renewAfter
// (Config.RenewAfter; 0 never), so that a flush moves it to a new one
// first. Only a record loaded from the store renews: one written by this
// request has a fresh ID or an unknown version.
func renewDue(b *baseline, now time.Time, renewAfter time.Duration) bool {
	return renewAfter > 0 && b.stored && b.ver != 0 && b.hdr.issued != 0 &&
		now.Unix()-b.hdr.issued >= int64(renewAfter/time.Second)
}

// mergeOnto returns the record to write when another request saved the
// session since this one loaded base: fresh, with the fields the request
// changed replaced by their values in ours, under fresh's header with
// the request's RememberMe (c) applied; and that header. Fields of fresh
// that this code does not know are kept as they are. A changed field that
// fresh also changed since base (the record this request last saw; with
// no base, any field may have changed): when this request changed it only
// through Update, its updates are applied again to fresh's value (which
// sets the field in d and marks it decoded in b); when it wrote it blind,
// the later writer, this one, wins (counted in Stats.Overwritten), unless
// the field is tagged conflict=error. When fresh cannot be read, ours is
// written over it with h, the header it carries. key names the session
// in log lines.
func (m *Manager) mergeOnto(ctx context.Context, c *changes, b *baseline, d wire.Data, h header, ours, base, fresh []byte, key string) ([]byte, header, error) {
	_, mine, err := entries(ours)
	if err != nil {
		return nil, h, err
	}
	hdr, theirs, err := entries(fresh)
	if err != nil {
		m.log.ErrorContext(ctx, "sessiongen: overwriting unreadable session record", "type", m.schema.Name, "session", m.logID(key), "err", err)
		return ours, h, nil
	}
	var before []entry
	if base != nil {
		if _, before, err = entries(base); err != nil {
			base = nil
		}
	}
	out := make([]entry, 0, len(theirs)+len(mine))
	for _, e := range theirs {
		if i, ok := m.index[string(e.Key)]; !ok || !c.dirty.has(i) {
			out = append(out, e) // a field this request did not change, or one this code does not know
		}
	}
	for i, k := range m.schema.Keys {
		if !c.dirty.has(i) {
			continue
		}
		kb := []byte(k)
		their := valueOf(theirs, kb)
		otherChanged := base == nil || !bytes.Equal(their, valueOf(before, kb))
		switch {
		case otherChanged && c.tx.replayable(i):
			// Changed only through Update: apply the updates again to
			// the newer value, and lose neither request's changes.
			b.decoded.set(i)
			if e, ok := m.replay(ctx, c.tx, d, i, their); ok {
				out = append(out, e)
			}
			continue
		case otherChanged && base != nil: // a blind write over another request's change
			if m.strict.has(i) {
				return nil, h, &FieldConflictError{Key: k}
			}
			m.stats.overwritten.Add(1)
			m.log.DebugContext(ctx, "sessiongen: this request set a field that another request changed since this one loaded the session; the later write wins", "type", m.schema.Name, "session", m.logID(key), "key", k)
		}
		if v := valueOf(mine, kb); v != nil {
			out = append(out, entry{Key: kb, Val: v})
		}
	}
	hdr = c.header(hdr) // never merged from a stale copy
	return buildRecord(hdr, out), hdr, nil
}

// replay sets field i of d to theirs (another request's newer value,
// msgpack; nil when absent: zero), applies the request's updates of it
// again, in order, and returns the field's entry as it then stands (false
// when the field is omitted).
func (m *Manager) replay(ctx context.Context, tx *fieldTx, d wire.Data, i int, theirs []byte) (entry, bool) {
	val := theirs
	if val == nil {
		val = []byte{0xc0} // nil: every decoder leaves the field zero
	}
	if err := m.decodeValue(d, i, val); err != nil && theirs != nil {
		m.logDropped(ctx, m.schema.Keys[i], err)
	}
	for _, u := range tx.updates {
		if u.i == i {
			u.apply()
		}
	}
	v, err := fieldValue(&m.schema, d, i, nil)
	tx.last(i).after = v
	if err != nil || v == nil {
		return entry{}, false
	}
	return entry{Key: []byte(m.schema.Keys[i]), Val: v}, true
}

// jitter returns a random duration in [0, d). It draws from crypto/rand,
// the only randomness the runtime uses; it runs on conflicts only.
func jitter(d time.Duration) time.Duration {
	var b [8]byte
	rand.Read(b[:])
	return time.Duration(binary.LittleEndian.Uint64(b[:]) % uint64(d))
}

// valueOf returns the raw value of key in entries, or nil.
func valueOf(entries []entry, key []byte) []byte {
	for _, e := range entries {
		if bytes.Equal(e.Key, key) {
			return e.Val
		}
	}
	return nil
}

// buildRecord writes a record from raw entries.
func buildRecord(h header, entries []entry) []byte {
	b := mp.AppendMapLen(appendHeader(nil, h), len(entries))
	for _, e := range entries {
		b = append(mp.AppendString(b, string(e.Key)), e.Val...)
	}
	return b
}
