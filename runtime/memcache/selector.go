package memcache

import (
	"fmt"
	"hash/fnv"
	"net"
	"strings"

	gomemcache "github.com/bradfitz/gomemcache/memcache"
)

// Selector picks the server for a key by rendezvous (highest random
// weight) hashing: each key goes to the server with the highest hash of
// (server, key). Adding one server to n moves about 1/(n+1) of the keys,
// where gomemcache's default crc32-mod-n moves about n/(n+1) of them: a
// mass logout. A dead server is never skipped: its keys would come back
// stale when it returns, and a logout could be undone.
type Selector struct {
	addrs []net.Addr
	seeds []uint64 // a hash of each server's address
}

var _ gomemcache.ServerSelector = (*Selector)(nil)

// NewSelector resolves the servers ("host:port", or a path for a Unix
// socket) once, as gomemcache's ServerList does.
func NewSelector(servers ...string) (*Selector, error) {
	if len(servers) == 0 {
		return nil, fmt.Errorf("sessiongen/memcache: no servers given")
	}
	s := &Selector{}
	seen := map[string]bool{}
	for _, srv := range servers {
		var addr net.Addr
		var err error
		if strings.Contains(srv, "/") {
			addr, err = net.ResolveUnixAddr("unix", srv)
		} else {
			addr, err = net.ResolveTCPAddr("tcp", srv)
		}
		if err != nil {
			return nil, fmt.Errorf("sessiongen/memcache: server %q: %w", srv, err)
		}
		if seen[addr.String()] {
			return nil, fmt.Errorf("sessiongen/memcache: server %q listed twice", srv)
		}
		seen[addr.String()] = true
		s.addrs = append(s.addrs, staticAddr{network: addr.Network(), str: addr.String()})
		s.seeds = append(s.seeds, hash64(addr.String()))
	}
	return s, nil
}

// PickServer implements gomemcache.ServerSelector.
func (s *Selector) PickServer(key string) (net.Addr, error) {
	var top [1]int
	s.rank(key, top[:])
	return s.addrs[top[0]], nil
}

// rank fills dst with the indexes of the len(dst) servers of highest
// weight for key, highest first: a key's replicas. Any n of them keep
// rendezvous hashing's property: adding a server moves a key's replica
// only where the new server outranks it.
func (s *Selector) rank(key string, dst []int) {
	k := hash64(key)
	var scores [maxReplicas]uint64
	n := 0
	for i, seed := range s.seeds {
		score := mix(seed ^ k)
		// insertion into the top len(dst), kept sorted by score
		j := n
		if j == len(dst) {
			if score <= scores[j-1] {
				continue
			}
			j--
		} else {
			n++
		}
		for ; j > 0 && scores[j-1] < score; j-- {
			scores[j], dst[j] = scores[j-1], dst[j-1]
		}
		scores[j], dst[j] = score, i
	}
}

// Each implements gomemcache.ServerSelector.
func (s *Selector) Each(f func(net.Addr) error) error {
	for _, a := range s.addrs {
		if err := f(a); err != nil {
			return err
		}
	}
	return nil
}

func hash64(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

// mix is the splitmix64 finaliser: it spreads the bits of x evenly.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// staticAddr caches an address's String, which gomemcache calls per op.
type staticAddr struct{ network, str string }

// Network implements net.Addr.
func (a staticAddr) Network() string { return a.network }

// String implements net.Addr.
func (a staticAddr) String() string { return a.str }
