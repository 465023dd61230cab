package runtime

import (
	"github.com/sessiongen/sessiongen/runtime/internal/mp"
	"github.com/sessiongen/sessiongen/runtime/wire"
)

// decodeValue decodes val, a stored value of field i held apart from its
// key, into d: the generated decoder reads keys and values, so the key is
// put in front of a copy.
func (m *Manager) decodeValue(d wire.Data, i int, val []byte) error {
	key := m.schema.Keys[i]
	e := append(mp.AppendString(make([]byte, 0, len(key)+5+len(val)), key), val...)
	_, _, err := m.schema.Decode(d, e, 0, 1, nil)
	return err
}
