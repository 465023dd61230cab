package typed

import (
	"fmt"

	"github.com/sessiongen/sessiongen/runtime/internal/mp"
	"github.com/vmihailenco/msgpack/v5"
)

// Entry is one field of a msgpack map, as raw msgpack.
type Entry struct {
	Key []byte // the key's string bytes
	Val []byte // the value's msgpack encoding
}

// AppendFields appends d's fields as one msgpack map, in schema order, then
// the unknown fields. stored, when not nil, reports whether field i was
// never decoded and returns its bytes as stored (nil when absent): such a
// field is copied as it is, not decoded and encoded again, so that a
// write that changes one field encodes one field.
func AppendFields(b []byte, sc *Schema, d Data, stored func(i int) ([]byte, bool), unknown []Entry) (_ []byte, err error) {
	// The number of entries is known only at the end (an omitempty field
	// holding its zero value writes nothing): leave room for the largest
	// map header, then move what precedes it up to close the gap.
	start := len(b)
	b = append(b, 0, 0, 0, 0, 0)
	n, from := 0, 0 // fields from on are still to be appended
	for i := 0; stored != nil && i < len(sc.Keys); i++ {
		v, undecoded := stored(i)
		if !undecoded {
			continue
		}
		if b, n, err = appendRun(b, n, sc, d, Range{from, i}); err != nil {
			return nil, err
		}
		if v != nil {
			b = append(mp.AppendString(b, sc.Keys[i]), v...)
			n++
		}
		from = i + 1
	}
	if b, n, err = appendRun(b, n, sc, d, Range{from, len(sc.Keys)}); err != nil {
		return nil, err
	}
	for _, e := range unknown {
		b = append(mp.AppendStr(b, e.Key), e.Val...)
		n++
	}
	var hdr [5]byte
	h := mp.AppendMapLen(hdr[:0], n)
	gap := 5 - len(h)
	copy(b[gap:], b[:start])
	copy(b[start+gap:], h)
	return b[gap:], nil
}

// appendRun appends the fields in r, encoded, and adds their number to n.
func appendRun(b []byte, n int, sc *Schema, d Data, r Range) ([]byte, int, error) {
	if r.From >= r.To {
		return b, n, nil
	}
	b, k, err := sc.Append(d, b, r)
	if err != nil {
		// Name the field: the first that fails on its own.
		for i := r.From; i < r.To; i++ {
			if _, _, e := sc.Append(d, nil, Range{i, i + 1}); e != nil {
				return b, n, fmt.Errorf("field %q: %w", sc.Keys[i], e)
			}
		}
	}
	return b, n + k, err
}

// DecodeFields decodes the msgpack map at the start of b into d, whose
// fields the caller has zeroed. It returns the offset after the map and
// unknown with the fields sc does not know appended (pointing into b). A
// value that does not fit its field is an error, and so is a decoder's
// panic.
func DecodeFields(b []byte, sc *Schema, d Data, unknown []Entry) (i int, _ []Entry, err error) {
	if sc.Recursive {
		// Decoding recurses as deep as the data nests: check the depth,
		// and every length, first.
		if _, err := mp.Skip(b, 0); err != nil {
			return 0, unknown, err
		}
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: decoder panicked: %v", mp.ErrCorrupt, p)
		}
	}()
	n, start, err := mp.ReadMapLen(b, 0)
	if err != nil {
		return start, unknown, err
	}
	if i, unknown, err = sc.Decode(d, b, start, n, unknown); err != nil {
		err = nameField(b, start, n, sc, d, err)
	}
	return i, unknown, err
}

// nameField names the field of the map entries at b[i:] whose decoding
// failed with err: the first entry that fails on its own. Decoding it
// again leaves d as the failed decode did.
func nameField(b []byte, i, n int, sc *Schema, d Data, err error) error {
	for ; n > 0; n-- {
		key, v, e := mp.ReadKey(b, i)
		if e != nil {
			return err
		}
		if _, _, e := sc.Decode(d, b, i, 1, nil); e != nil {
			return fmt.Errorf("field %q: %w", key, err)
		}
		if i, e = mp.Skip(b, v); e != nil {
			return err
		}
	}
	return err
}

// Unknown skips the value at b[i:] of a key the schema does not know and
// appends both to unknown, pointing into b.
func Unknown(b []byte, i int, key []byte, unknown []Entry) (int, []Entry, error) {
	j, err := mp.Skip(b, i)
	if err != nil {
		return j, unknown, err
	}
	return j, append(unknown, Entry{Key: key, Val: b[i:j]}), nil
}

// EncodeTo writes what AppendFields appends to enc.
func EncodeTo(enc *msgpack.Encoder, sc *Schema, d Data, stored func(i int) ([]byte, bool), unknown []Entry) error {
	buf := mp.Buffers.Get().(*mp.Buffer)
	defer mp.Buffers.Put(buf)
	b, err := AppendFields(buf.B[:0], sc, d, stored, unknown)
	if err != nil {
		return err
	}
	buf.Keep(b)
	_, err = enc.Writer().Write(b)
	return err
}

// DecodeFrom reads one map from dec as DecodeFields does. From a decoder
// reading a *mp.Reader it decodes in place, without copying the value out.
func DecodeFrom(dec *msgpack.Decoder, sc *Schema, d Data, unknown []Entry) ([]Entry, error) {
	if r, ok := dec.Buffered().(*mp.Reader); ok {
		i, unknown, err := DecodeFields(r.Rest(), sc, d, unknown)
		r.Advance(i)
		return unknown, err
	}
	b, err := dec.DecodeRaw()
	if err != nil {
		return unknown, err
	}
	_, unknown, err = DecodeFields(b, sc, d, unknown)
	return unknown, err
}
