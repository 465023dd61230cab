package runtime

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sessiongen/sessiongen/runtime/internal/carry"
	"github.com/sessiongen/sessiongen/runtime/internal/mp"
	"github.com/sessiongen/sessiongen/runtime/wire"
)

// A record is what the runtime stores for a session:
//
//	byte 0      format version (recordV1)
//	msgpack int creation time, unix seconds (for the absolute lifetime)
//	msgpack int flags (flagPersistent, flagForward)
//	msgpack int when the current ID was issued, unix seconds (for renewal)
//	msgpack map field key → value, written by the generated EncodeMsgpack
//
// A forward record (flagForward) holds no fields: after the map header
// position comes a 32-byte bin, the ID that replaced this one, encrypted
// under a pad that only a holder of the old ID can compute.
//
// Before anything is decoded, one pass over the bytes checks every length
// prefix against the bytes that remain and bounds the nesting depth, so a
// corrupt or hostile record cannot make the decoder recurse without end,
// and no length it claims is allocated before its bytes are known to be
// there. Elements are not bytes, though: a nil in a record decodes into a
// zero element of up to a struct's size, so a slice may take at most 16
// bytes of memory per byte of record (wire.ReadSliceLen), and a map grows
// by the entries it really gets.
const (
	recordV1 = 0x01
	// maxRecordSize is the largest record the runtime decodes or writes.
	maxRecordSize = 1 << 20
)

// errCorrupt means a stored record could not be decoded. The runtime
// deletes such a record and starts a fresh session.
var errCorrupt = mp.ErrCorrupt

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errCorrupt}, args...)...)
}

// header is what a record holds besides the fields.
type header struct {
	created int64  // unix seconds
	flags   uint64 // flagPersistent, flagForward
	issued  int64  // unix seconds
}

const (
	// flagPersistent: the session's cookie outlives the browser session.
	flagPersistent = 1 << 0
	// flagForward: the record only points to the ID that renewed it.
	flagForward = 1 << 1
	// flagRetired: the record held a session that moved to a new ID by
	// Regenerate; it holds nothing, and no request may follow it.
	flagRetired = 1 << 2
)

// entry is one top-level field of a record, as raw msgpack.
type entry = wire.Entry

// entries validates rec and returns its header and its fields.
func entries(rec []byte) (header, []entry, error) {
	var out []entry
	h, _, err := checkRecord(rec, func(key []byte, v loc, val int) {
		out = append(out, entry{Key: key, Val: rec[val:v.end]})
	})
	return h, out, err
}

// fields indexes a loaded record: where each field is, and the
// fields this code does not know, to be written back untouched. It
// decodes nothing.
type fields struct {
	rec     []byte   // the record indexed
	byField []loc    // where each field is in rec, by field index
	locs    [16]loc  // byField's storage, for schemas of up to 16 fields
	unknown []entry  // the fields the schema does not know
	unk     [2]entry // unknown's storage for two: an owned session's stamps
	written [9]byte  // the value of writtenKey, as stamp encodes it
	seen    [9]byte  // of seenKey
	issued  [9]byte  // of issuedKey
}

// index validates rec and indexes its fields: keys are the schema's, pos
// the index of each key.
func (f *fields) index(rec []byte, keys []string, pos map[string]int) (header, error) {
	if n := len(keys); n <= len(f.locs) {
		f.byField = f.locs[:n] // no allocation for most sessions
	} else if cap(f.byField) < n {
		f.byField = make([]loc, n)
	}
	f.byField = f.byField[:len(keys)]
	clear(f.byField)
	if f.unknown == nil {
		f.unknown = f.unk[:0]
	}
	f.unknown = f.unknown[:0]
	f.rec = rec
	next := 0
	hdr, _, err := checkRecord(rec, func(key []byte, v loc, val int) {
		// A record written by this release has its keys in schema order:
		// trying next first, one comparison finds the field.
		i, ok := next, next < len(keys) && keys[next] == string(key)
		if !ok {
			i, ok = pos[string(key)]
		}
		if !ok {
			f.unknown = append(f.unknown, entry{Key: key, Val: rec[val:v.end]})
			return
		}
		f.byField[i], next = v, i+1 // a key given twice: the last wins, as when decoding
	})
	return hdr, err
}

// raw returns the value of field i in the indexed record, nil if absent.
func (f *fields) raw(i int) []byte {
	if v := f.byField[i]; v.start != 0 {
		_, j, _ := mp.ReadKey(f.rec, int(v.start)) // checked by index
		return f.rec[j:v.end]
	}
	return nil
}

// entry returns the key and value of field i in the indexed record, as
// msgpack, nil if absent.
func (f *fields) entry(i int) []byte {
	if v := f.byField[i]; v.start != 0 {
		return f.rec[v.start:v.end]
	}
	return nil
}

// loc locates a field in a record, its key and then its value:
// rec[start:end]. A zero loc is a field the record lacks (no key starts
// at 0, the header does).
type loc struct{ start, end uint32 }

// checkRecord validates a whole record and returns its header and the
// msgpack map that follows it. With each non-nil it also calls each for
// every field of the map, in order, with its key, where it is in rec and
// where its value starts.
func checkRecord(rec []byte, each func(key []byte, at loc, val int)) (h header, body []byte, err error) {
	if len(rec) > maxRecordSize {
		return h, nil, corrupt("%d bytes, over the %d-byte limit", len(rec), maxRecordSize)
	}
	if len(rec) == 0 || rec[0] != recordV1 {
		return h, nil, corrupt("unknown format version")
	}
	h, i, err := readHeader(rec)
	if err != nil {
		return h, nil, err
	}
	if h.flags&(flagForward|flagRetired) != 0 {
		return h, nil, corrupt("a forward or retired record is not a session")
	}
	body = rec[i:]
	n, j, err := mp.ReadMapLen(body, 0)
	if err == nil && n < 0 {
		err = corrupt("the fields are nil, not a map")
	}
	if err != nil {
		return h, nil, err
	}
	for ; n > 0; n-- {
		k := j
		var key []byte
		if key, j, err = mp.ReadKey(body, j); err != nil {
			return h, nil, err
		}
		v := j
		if j, err = mp.Skip(body, j); err != nil {
			return h, nil, err
		}
		if each != nil {
			each(key, loc{uint32(i + k), uint32(i + j)}, i+v)
		}
	}
	if j != len(body) {
		return h, nil, corrupt("%d trailing bytes", len(body)-j)
	}
	return h, body, nil
}

// headerLen is the length of what appendHeader appends: the version byte
// and three 64-bit msgpack ints.
const headerLen = 1 + 3*9

// appendHeader starts a record.
func appendHeader(b []byte, h header) []byte {
	b = append(b, recordV1, 0xd3)
	b = binary.BigEndian.AppendUint64(b, uint64(h.created))
	b = append(b, 0xcf)
	b = binary.BigEndian.AppendUint64(b, h.flags)
	b = append(b, 0xd3)
	return binary.BigEndian.AppendUint64(b, uint64(h.issued))
}

// forwardPad is what the new ID is XORed with in a forward record: a hash
// of the old ID, which the store does not hold (it holds a hash of it
// under another construction), so a dump of the store yields no usable ID.
func forwardPad(oldID string) [32]byte {
	return sha256.Sum256([]byte("sessiongen forward\x00" + oldID))
}

// forwardRecord is the record that replaces oldID's for the grace period
// of a renewal made at at, pointing to newID. Its header's creation time
// is when it was written, in unix milliseconds: a forward is followed for
// the grace after that, however long a store keeps it (a touch by a
// request that loaded the old ID before the renewal moves its expiry).
func forwardRecord(oldID, newID string, at time.Time) []byte {
	raw, _ := b64.DecodeString(newID)
	pad := forwardPad(oldID)
	b := appendHeader(nil, header{flags: flagForward, created: at.UnixMilli()})
	b = append(b, 0xc4, byte(len(pad)))
	for i := range pad {
		b = append(b, raw[i]^pad[i])
	}
	return b
}

// loadFollowing loads the record of session id through c and, when it
// is a forward left by a renewal at most grace before now (any forward
// when grace is 0), the record of the ID it points to, once. It returns
// the ID and key the record is under. An older forward, and a retired
// record, is ErrNotFound: a retired record's session moved to an ID the
// holder of this one must not learn.
func loadFollowing(ctx context.Context, c carry.Carrier, t *carry.Trip, id string, now time.Time, grace time.Duration) (string, string, []byte, uint64, error) {
	key := storeKey(id)
	rec, ver, err := c.Load(ctx, t, key)
	if newID, ok := forwardTarget(rec, id); ok && err == nil {
		h, _, _ := readHeader(rec) // checked by forwardTarget
		if grace > 0 && now.UnixMilli()-h.created > grace.Milliseconds() {
			return id, key, nil, 0, ErrNotFound // the grace is over
		}
		id, key = newID, storeKey(newID)
		rec, ver, err = c.Load(ctx, t, key)
	}
	if err == nil && retired(rec) {
		return id, key, nil, 0, errRetired
	}
	return id, key, rec, ver, err
}

// errRetired is loadFollowing's answer for a retired record. It matches
// ErrNotFound.
var errRetired = fmt.Errorf("%w: the session moved to a new ID (Regenerate)", ErrNotFound)

// withHeader returns rec with its header replaced by h.
func withHeader(rec []byte, h header) []byte {
	return append(appendHeader(make([]byte, 0, len(rec)), h), rec[headerLen:]...)
}

// retiredRecord is what replaces the record of a session's old ID when
// Regenerate gives it a new one.
func retiredRecord() []byte { return appendHeader(nil, header{flags: flagRetired}) }

// retired reports whether rec is a retired record.
func retired(rec []byte) bool {
	if len(rec) != headerLen || rec[0] != recordV1 {
		return false
	}
	h, _, err := readHeader(rec)
	return err == nil && h.flags&flagRetired != 0
}

// largestFields names the three largest fields of rec, a record this
// request built (of any size: it says what made one too large), with
// their sizes.
func largestFields(rec []byte) string {
	var fields []entry
	_, i, err := readHeader(rec)
	n := 0
	if err == nil {
		n, i, err = mp.ReadMapLen(rec, i)
	}
	for ; err == nil && n > 0; n-- {
		var key []byte
		if key, i, err = mp.ReadKey(rec, i); err == nil {
			v := i
			if i, err = mp.Skip(rec, i); err == nil {
				fields = append(fields, entry{Key: key, Val: rec[v:i]})
			}
		}
	}
	if err != nil {
		return "?"
	}
	slices.SortFunc(fields, func(a, b entry) int { return cmp.Compare(len(b.Val), len(a.Val)) })
	var parts []string
	for _, f := range fields[:min(3, len(fields))] {
		parts = append(parts, fmt.Sprintf("%q (%d bytes)", f.Key, len(f.Val)))
	}
	return strings.Join(parts, ", ")
}

// forwardTarget returns the ID a forward record points to, given the ID
// it was stored under; ok is false for any other record.
func forwardTarget(rec []byte, oldID string) (newID string, ok bool) {
	n := headerLen
	if len(rec) != n+2+32 || rec[0] != recordV1 || rec[n] != 0xc4 || rec[n+1] != 32 {
		return "", false
	}
	h, i, err := readHeader(rec)
	if err != nil || h.flags&flagForward == 0 || i != n {
		return "", false
	}
	pad := forwardPad(oldID)
	var raw [32]byte
	for j := range raw {
		raw[j] = rec[n+2+j] ^ pad[j]
	}
	return b64.EncodeToString(raw[:]), true
}

// readHeader reads the header fields after the version byte and returns
// the offset of what follows.
func readHeader(rec []byte) (header, int, error) {
	created, i, err := mp.ReadInt(rec, 1, 64)
	if err != nil {
		return header{}, 0, corrupt("creation time: %v", err)
	}
	flags, i, err := mp.ReadInt(rec, i, 64)
	if err != nil || flags < 0 {
		return header{}, 0, corrupt("bad header flags")
	}
	issued, i, err := mp.ReadInt(rec, i, 64)
	if err != nil {
		return header{}, 0, corrupt("issue time: %v", err)
	}
	return header{created: created, flags: uint64(flags), issued: issued}, i, nil
}
