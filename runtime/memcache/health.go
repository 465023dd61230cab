package memcache

import (
	"sync/atomic"
	"time"

	gomemcache "github.com/bradfitz/gomemcache/memcache"
)

// probeInterval is how long a server that failed is left out before a
// background probe asks it again.
const probeInterval = time.Second

// node is one memcached server of a replicated store. A server that
// failed to answer is left out of requests (they go on with the other
// replicas, paying nothing for it) until a probe, run in the background
// no more than once per probeInterval, finds it answering again.
type node struct {
	addr      string
	c         *gomemcache.Client
	downUntil atomic.Int64 // unix nanoseconds; 0 while up
	probing   atomic.Bool
	now       func() time.Time
}

func newNode(addr string, timeout time.Duration, maxIdle int) *node {
	c := gomemcache.New(addr)
	c.Timeout, c.MaxIdleConns = timeout, maxIdle
	return &node{addr: addr, c: c, now: time.Now}
}

// up reports whether requests should use the server. When it is down
// and its wait is over, it starts a probe and still says no: no request
// waits for a server that may not answer.
func (n *node) up() bool {
	until := n.downUntil.Load()
	if until == 0 {
		return true
	}
	if n.now().UnixNano() >= until && n.probing.CompareAndSwap(false, true) {
		go n.probe()
	}
	return false
}

// fail leaves the server out until the next probe.
func (n *node) fail() {
	n.downUntil.Store(n.now().Add(probeInterval).UnixNano())
}

func (n *node) probe() {
	defer n.probing.Store(false)
	n.c.Close() // connections to a server that restarted are dead
	if err := n.c.Ping(); err != nil {
		n.fail()
		return
	}
	n.downUntil.Store(0)
}
