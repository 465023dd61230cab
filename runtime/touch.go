package runtime

import (
	"sync/atomic"
	"time"
)

// touchCache remembers when this process last moved a session's expiry,
// so that read-only requests send a Touch at most once per tenth of the
// idle timeout rather than on every request. It is a fixed table indexed
// by a hash of the store key: 256 KiB whatever the number of sessions. A
// collision costs one needless Touch, never a missed one that matters:
// a slot only claims a touch for the exact tag it holds.
type touchCache struct {
	slots [1 << 15]atomic.Uint64 // tag (high 32 bits) | unix seconds (low 32 bits)
}

func (c *touchCache) slot(h uint64) (*atomic.Uint64, uint64) {
	return &c.slots[h&(uint64(len(c.slots))-1)], h >> 32 << 32
}

// due reports whether a read-only request should move the expiry.
func (c *touchCache) due(h uint64, now time.Time, idle time.Duration) bool {
	s, tag := c.slot(h)
	v := s.Load()
	if v&^0xffffffff != tag {
		return true
	}
	last := int64(uint32(v))
	return now.Unix()-last >= max(int64(idle/time.Second/10), 1)
}

// mark records that the expiry of the session with hash h moved at now.
func (c *touchCache) mark(h uint64, now time.Time) {
	s, tag := c.slot(h)
	s.Store(tag | uint64(uint32(now.Unix())))
}

// forget drops what the table knows of h.
func (c *touchCache) forget(h uint64) {
	s, tag := c.slot(h)
	if v := s.Load(); v&^0xffffffff == tag {
		s.CompareAndSwap(v, 0)
	}
}
