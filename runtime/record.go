package runtime

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
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
// corrupt or hostile record cannot make the decoder allocate more than the
// record's own size or recurse without end.
const (
	recordV1 = 0x01
	// MaxDepth is the deepest nesting of arrays and maps a record may hold.
	MaxDepth = 32
	// MaxRecordSize is the largest record the runtime decodes or writes.
	MaxRecordSize = 1 << 20
)

// ErrCorrupt means a stored record could not be decoded. The runtime
// deletes such a record and starts a fresh session.
var ErrCorrupt = errors.New("sessiongen: corrupt session record")

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
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
)

// entry is one top-level field of a record, as raw msgpack.
type entry struct {
	key []byte // the key's string bytes
	val []byte // the value's msgpack encoding
}

// entries validates rec and returns its header and its fields.
func entries(rec []byte) (header, []entry, error) {
	var out []entry
	h, _, err := checkRecord(rec, func(key []byte, v loc) {
		out = append(out, entry{key: key, val: rec[v.start:v.end]})
	})
	return h, out, err
}

// loc locates a field's value in a record: rec[start:end]. A zero loc
// is a field the record lacks (no value starts at 0, the header does).
type loc struct{ start, end uint32 }

// checkRecord validates a whole record and returns its header and the
// msgpack map that follows it. With each non-nil it also calls each for
// every field of the map, in order, with its key and where its value is
// in rec.
func checkRecord(rec []byte, each func(key []byte, val loc)) (h header, body []byte, err error) {
	if len(rec) > MaxRecordSize {
		return h, nil, corrupt("%d bytes, over the %d-byte limit", len(rec), MaxRecordSize)
	}
	if len(rec) == 0 || rec[0] != recordV1 {
		return h, nil, corrupt("unknown format version")
	}
	h, i, err := readHeader(rec)
	if err != nil {
		return h, nil, err
	}
	if h.flags&flagForward != 0 {
		return h, nil, corrupt("a forward record is not a session")
	}
	body = rec[i:]
	n, j, err := mapHeader(body, 0)
	if err != nil {
		return h, nil, err
	}
	for ; n > 0; n-- {
		var key []byte
		if key, j, err = ReadKey(body, j); err != nil {
			return h, nil, err
		}
		v := j
		if j, err = skip(body, j, 1); err != nil {
			return h, nil, err
		}
		if each != nil {
			each(key, loc{uint32(i + v), uint32(i + j)})
		}
	}
	if j != len(body) {
		return h, nil, corrupt("%d trailing bytes", len(body)-j)
	}
	return h, body, nil
}

// skip returns the offset just past the msgpack value at b[i:], checking
// every length against what remains. depth counts enclosing containers.
func skip(b []byte, i, depth int) (int, error) {
	if i >= len(b) {
		return 0, corrupt("truncated at byte %d", i)
	}
	c := b[i]
	switch {
	case c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3:
		return i + 1, nil
	case depth > MaxDepth && (c >= 0x80 && c <= 0x9f || c >= 0xdc && c <= 0xdf):
		// Only containers count: decoders recurse into them, not into
		// scalars. A nil at the bottom of a chain 32 deep is fine; an
		// encoder writes one where it read an empty map.
		return 0, corrupt("nested deeper than %d", MaxDepth)
	case c >= 0x80 && c <= 0x8f, c == 0xde, c == 0xdf:
		n, j, err := mapHeader(b, i)
		if err != nil {
			return 0, err
		}
		return skipN(b, j, 2*n, depth)
	case c >= 0x90 && c <= 0x9f, c == 0xdc, c == 0xdd:
		n, j, err := arrayHeader(b, i)
		if err != nil {
			return 0, err
		}
		return skipN(b, j, n, depth)
	case c >= 0xa0 && c <= 0xbf:
		return span(b, i+1, int(c&0x1f))
	}
	switch c {
	case 0xcc, 0xd0:
		return span(b, i+1, 1)
	case 0xcd, 0xd1:
		return span(b, i+1, 2)
	case 0xca, 0xce, 0xd2:
		return span(b, i+1, 4)
	case 0xcb, 0xcf, 0xd3:
		return span(b, i+1, 8)
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext 1, 2, 4, 8, 16: type byte + data
		return span(b, i+1, 1+1<<(c-0xd4))
	case 0xc4, 0xd9: // bin8, str8
		n, j, err := uintN(b, i+1, 1)
		if err != nil {
			return 0, err
		}
		return span(b, j, n)
	case 0xc5, 0xda:
		n, j, err := uintN(b, i+1, 2)
		if err != nil {
			return 0, err
		}
		return span(b, j, n)
	case 0xc6, 0xdb:
		n, j, err := uintN(b, i+1, 4)
		if err != nil {
			return 0, err
		}
		return span(b, j, n)
	case 0xc7, 0xc8, 0xc9: // ext 8, 16, 32: length, type byte, data
		n, j, err := uintN(b, i+1, 1<<(c-0xc7))
		if err != nil {
			return 0, err
		}
		return span(b, j, 1+n)
	}
	return 0, corrupt("invalid code %#x at byte %d", c, i)
}

func skipN(b []byte, i, n, depth int) (int, error) {
	var err error
	for ; n > 0; n-- {
		if i, err = skip(b, i, depth+1); err != nil {
			return 0, err
		}
	}
	return i, nil
}

// span checks that n bytes remain at b[i:] and returns the offset after them.
func span(b []byte, i, n int) (int, error) {
	if n < 0 || n > len(b)-i {
		return 0, corrupt("length %d at byte %d runs past the end", n, i)
	}
	return i + n, nil
}

// uintN reads a big-endian length of size bytes at b[i:].
func uintN(b []byte, i, size int) (int, int, error) {
	j, err := span(b, i, size)
	if err != nil {
		return 0, 0, err
	}
	var n uint64
	for _, x := range b[i:j] {
		n = n<<8 | uint64(x)
	}
	return int(n), j, nil
}

// mapHeader reads a map header at b[i:]; the count is checked against the
// bytes that remain (every key and value takes at least one).
func mapHeader(b []byte, i int) (n, j int, err error) {
	if i >= len(b) {
		return 0, 0, corrupt("truncated at byte %d", i)
	}
	switch c := b[i]; {
	case c >= 0x80 && c <= 0x8f:
		n, j = int(c&0x0f), i+1
	case c == 0xde:
		n, j, err = uintN(b, i+1, 2)
	case c == 0xdf:
		n, j, err = uintN(b, i+1, 4)
	default:
		return 0, 0, corrupt("expected a map at byte %d, found code %#x", i, c)
	}
	if err == nil && n > (len(b)-j)/2 {
		err = corrupt("map of %d entries at byte %d cannot fit in %d bytes", n, i, len(b)-j)
	}
	return n, j, err
}

func arrayHeader(b []byte, i int) (n, j int, err error) {
	switch c := b[i]; {
	case c >= 0x90 && c <= 0x9f:
		n, j = int(c&0x0f), i+1
	case c == 0xdc:
		n, j, err = uintN(b, i+1, 2)
	default:
		n, j, err = uintN(b, i+1, 4)
	}
	if err == nil && n > len(b)-j {
		err = corrupt("array of %d elements at byte %d cannot fit in %d bytes", n, i, len(b)-j)
	}
	return n, j, err
}

// readInt reads a msgpack integer at b[i:] into an int64: a header field,
// or a field value for ReadInt.
func readInt(b []byte, i int) (int64, int, error) {
	if i >= len(b) {
		return 0, 0, corrupt("truncated at byte %d", i)
	}
	c := b[i]
	switch {
	case c <= 0x7f:
		return int64(c), i + 1, nil
	case c >= 0xe0:
		return int64(int8(c)), i + 1, nil
	}
	var size int
	switch c {
	case 0xcc, 0xd0:
		size = 1
	case 0xcd, 0xd1:
		size = 2
	case 0xce, 0xd2:
		size = 4
	case 0xcf, 0xd3:
		size = 8
	}
	j, err := span(b, i+1, size)
	if size == 0 || err != nil {
		return 0, 0, corrupt("bad integer at byte %d", i)
	}
	var u uint64
	for _, x := range b[i+1 : j] {
		u = u<<8 | uint64(x)
	}
	if c >= 0xd0 { // signed: sign-extend
		shift := 64 - 8*size
		return int64(u<<shift) >> shift, j, nil
	}
	if u > 1<<63-1 {
		return 0, 0, corrupt("integer at byte %d overflows int64", i)
	}
	return int64(u), j, nil
}

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
// of a renewal, pointing to newID.
func forwardRecord(oldID, newID string) []byte {
	raw, _ := b64.DecodeString(newID)
	pad := forwardPad(oldID)
	b := appendHeader(nil, header{flags: flagForward})
	b = append(b, 0xc4, byte(len(pad)))
	for i := range pad {
		b = append(b, raw[i]^pad[i])
	}
	return b
}

// forwardTarget returns the ID a forward record points to, given the ID
// it was stored under; ok is false for any other record.
func forwardTarget(rec []byte, oldID string) (newID string, ok bool) {
	n := len(appendHeader(nil, header{}))
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
	created, i, err := readInt(rec, 1)
	if err != nil {
		return header{}, 0, err
	}
	flags, i, err := readInt(rec, i)
	if err != nil || flags < 0 {
		return header{}, 0, corrupt("bad header flags")
	}
	issued, i, err := readInt(rec, i)
	return header{created: created, flags: uint64(flags), issued: issued}, i, err
}

// Reader is an io.Reader over a byte slice. A msgpack.Decoder reading from
// one lets generated DecodeMsgpack methods decode the bytes in place,
// through msgpack.Decoder.Buffered, instead of copying the value out.
type Reader struct {
	b []byte
	i int
}

// Reset makes r read b.
func (r *Reader) Reset(b []byte) { r.b, r.i = b, 0 }

// Read implements io.Reader.
func (r *Reader) Read(p []byte) (int, error) {
	if r.i >= len(r.b) {
		return 0, io.EOF
	}
	n := copy(p, r.b[r.i:])
	r.i += n
	return n, nil
}

// ReadByte implements io.ByteReader.
func (r *Reader) ReadByte() (byte, error) {
	if r.i >= len(r.b) {
		return 0, io.EOF
	}
	r.i++
	return r.b[r.i-1], nil
}

// UnreadByte implements io.ByteScanner.
func (r *Reader) UnreadByte() error {
	if r.i == 0 {
		return errors.New("sessiongen: UnreadByte at start")
	}
	r.i--
	return nil
}

type codecState struct{ buf []byte }

// keep makes b, encoded from c.buf, the buffer to reuse if it outgrew it.
func (c *codecState) keep(b []byte) {
	if cap(b) > cap(c.buf) {
		c.buf = b[:0]
	}
}

var codecPool = sync.Pool{New: func() any { return &codecState{buf: make([]byte, 0, 512)} }}
