package memcache

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	gomemcache "github.com/bradfitz/gomemcache/memcache"
	"github.com/sessiongen/sessiongen/runtime/internal/neterr"
)

func TestExpirationEncoding(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	for _, tc := range []struct {
		in   time.Duration
		want int32
	}{
		{-time.Hour, 1},                // never negative: that would delete at once
		{0, 1},                         // never 0: that means "never expires"
		{time.Millisecond, 1},          // rounded up
		{90 * time.Second, 90},         // relative
		{30 * 24 * time.Hour, 2592000}, // the largest relative value
		{30*24*time.Hour + time.Second, int32(now.Unix() + 2592001)}, // absolute beyond 30 days
		{60 * 24 * time.Hour, int32(now.Unix() + 60*24*3600)},
	} {
		if got := expiration(now.Add(tc.in), now); got != tc.want {
			t.Errorf("expiration(now%+v) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

func TestOptionsAreValidated(t *testing.T) {
	for name, opt := range map[string]Option{
		"prefix with space": WithPrefix("my app:"),
		"long prefix":       WithPrefix(string(make([]byte, 65))),
		"zero timeout":      WithTimeout(0),
		"no idle conns":     WithMaxIdleConns(0),
		"record over 1 MiB": WithMaxRecordSize(2 << 20),
	} {
		if _, err := NewWithOptions([]string{"127.0.0.1:11211"}, opt); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	for _, servers := range [][]string{nil, {"no-port"}, {"127.0.0.1:1", "127.0.0.1:1"}} {
		if _, err := New(servers...); err == nil {
			t.Errorf("New(%q) accepted", servers)
		}
	}
	s, err := NewWithOptions([]string{"127.0.0.1:11211"})
	if err != nil || s.c.MaxIdleConns != DefaultMaxIdleConns || s.c.Timeout != DefaultTimeout {
		t.Fatalf("defaults not applied to the client: %v", err)
	}
}

// TestAddingANodeMovesFewKeys: 10 → 11 servers. Rendezvous hashing moves
// about 1/11 of the keys; gomemcache's crc32-mod-n, about 10/11: a mass logout.
func TestAddingANodeMovesFewKeys(t *testing.T) {
	servers := func(n int) []string {
		var s []string
		for i := range n {
			s = append(s, fmt.Sprintf("10.0.0.%d:11211", i+1))
		}
		return s
	}
	ten, _ := NewSelector(servers(10)...)
	eleven, _ := NewSelector(servers(11)...)
	var modTen, modEleven gomemcache.ServerList
	modTen.SetServers(servers(10)...)
	modEleven.SetServers(servers(11)...)
	const keys = 100_000
	moved, movedMod := 0, 0
	perServer := map[string]int{}
	for i := range keys {
		k := fmt.Sprintf("sess:%043d", i)
		a, _ := ten.PickServer(k)
		b, _ := eleven.PickServer(k)
		perServer[b.String()]++
		if a.String() != b.String() {
			moved++
		}
		c, _ := modTen.PickServer(k)
		d, _ := modEleven.PickServer(k)
		if c.String() != d.String() {
			movedMod++
		}
	}
	share := float64(moved) / keys
	t.Logf("10 → 11 servers: rendezvous moved %.1f%% of keys, crc32 mod n moved %.1f%%", 100*share, 100*float64(movedMod)/keys)
	if share > 0.15 {
		t.Fatalf("moved %.1f%% of keys, want at most 15%%", 100*share)
	}
	for srv, n := range perServer {
		if n < keys/11*8/10 || n > keys/11*12/10 {
			t.Errorf("server %s holds %d keys, want about %d (±20%%)", srv, n, keys/11)
		}
	}
}

func TestErrorKinds(t *testing.T) {
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	read := &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	for _, tc := range []struct {
		err            error
		stale, notSent bool
	}{
		{io.EOF, true, false},
		{read, true, false},
		{&net.OpError{Op: "write", Net: "tcp", Err: syscall.EPIPE}, true, false},
		{dial, false, true},
		{&gomemcache.ConnectTimeoutError{Addr: &net.TCPAddr{}}, false, true},
		{gomemcache.ErrNoServers, false, true},
		{&net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}, false, false},
		{gomemcache.ErrCacheMiss, false, false},
		{errors.New("SERVER_ERROR object too large for cache"), false, false},
	} {
		if neterr.Stale(tc.err) != tc.stale || notSent(tc.err) != tc.notSent {
			t.Errorf("%v: stale %v, not sent %v; want %v, %v", tc.err, neterr.Stale(tc.err), notSent(tc.err), tc.stale, tc.notSent)
		}
	}
}
