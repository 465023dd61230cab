package runtime

import (
	"errors"
	"fmt"

	"github.com/sessiongen/sessiongen/runtime/internal/mp"
)

// An owner's index record:
//
//	byte 0        format version (indexV1)
//	msgpack array of [key string, created int, deadline int, added int],
//	in the order they were added
//
// (Entries written before added was kept have three elements; they read
// as added at 0, long ago.)
const indexV1 = 0x01

// maxOwnedSessions bounds one owner's index, and Config.MaxSessionsPerOwner.
const maxOwnedSessions = 500

func encodeIndex(es []ownerEntry) []byte {
	b := mp.AppendArrayLen(append(make([]byte, 0, 1+len(es)*64), indexV1), len(es))
	for _, e := range es {
		b = mp.AppendArrayLen(b, 4)
		b = mp.AppendString(b, e.key)
		b = mp.AppendInt(b, e.created)
		b = mp.AppendInt(b, e.deadline)
		b = mp.AppendInt(b, e.added)
	}
	return b
}

// decodeIndex reads an index record; nil reads as an empty index.
func decodeIndex(rec []byte) ([]ownerEntry, error) {
	if rec == nil {
		return nil, nil
	}
	if len(rec) == 0 || rec[0] != indexV1 {
		return nil, fmt.Errorf("%w: not an owner's index", errCorrupt)
	}
	n, i, err := mp.ReadArrayLen(rec, 1)
	if err == nil && n < 0 {
		err = errors.New("nil, not an array")
	}
	if err != nil || n > maxOwnedSessions*2 {
		return nil, fmt.Errorf("%w: owner's index: %d entries, %v", errCorrupt, n, err)
	}
	es := make([]ownerEntry, 0, n)
	for range n {
		var e ownerEntry
		var k int
		if k, i, err = mp.ReadArrayLen(rec, i); err == nil && k != 3 && k != 4 {
			err = fmt.Errorf("an entry of %d elements", k)
		}
		if err == nil {
			if e.key, i, err = mp.ReadString(rec, i); err == nil {
				if e.created, i, err = mp.ReadInt(rec, i, 64); err == nil {
					e.deadline, i, err = mp.ReadInt(rec, i, 64)
				}
			}
		}
		if err == nil && k == 4 {
			e.added, i, err = mp.ReadInt(rec, i, 64)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: owner's index: %w", errCorrupt, err)
		}
		es = append(es, e)
	}
	return es, nil
}

// ownerEntry is one session in an owner's index.
type ownerEntry struct {
	key      string
	created  int64 // unix seconds
	deadline int64 // unix seconds: the end of the absolute lifetime
	added    int64 // unix seconds: when the key was indexed, before its record was stored
}
