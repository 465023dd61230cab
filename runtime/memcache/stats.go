package memcache

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// Evictions returns how many live items the servers evicted for memory
// since they started, summed over the servers. An evicted session looks
// like an expired one to its visitor (a fresh session, no error), so
// watch this number: a rising count means memcached needs more memory.
// It needs the server list, so it fails for a store made by NewFromClient.
func (s *Store) Evictions(ctx context.Context) (uint64, error) {
	if s.sel == nil {
		return 0, errors.New("sessiongen/memcache: Evictions needs a store made by New, not NewFromClient")
	}
	var total uint64
	err := s.sel.Each(func(a net.Addr) error {
		n, err := stat(ctx, a, "evictions", s.timeout)
		total += n
		return err
	})
	return total, err
}

// stat reads one counter from a server's "stats" reply.
func stat(ctx context.Context, a net.Addr, name string, timeout time.Duration) (uint64, error) {
	d := net.Dialer{Timeout: timeout}
	c, err := d.DialContext(ctx, a.Network(), a.String())
	if err != nil {
		return 0, fmt.Errorf("sessiongen/memcache: stats from %s: %w", a, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(4 * timeout))
	if _, err := c.Write([]byte("stats\r\n")); err != nil {
		return 0, fmt.Errorf("sessiongen/memcache: stats from %s: %w", a, err)
	}
	sc := bufio.NewScanner(c)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 1 && f[0] == "END":
			return 0, fmt.Errorf("sessiongen/memcache: %s reports no %q", a, name)
		case len(f) == 3 && f[0] == "STAT" && f[1] == name:
			return strconv.ParseUint(f[2], 10, 64)
		}
	}
	return 0, fmt.Errorf("sessiongen/memcache: stats from %s: %w", a, sc.Err())
}
