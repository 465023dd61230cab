package memcache_test

import (
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	gomemcache "github.com/bradfitz/gomemcache/memcache"
	"github.com/sessiongen/sessiongen/internal/servers"
	"github.com/sessiongen/sessiongen/internal/storebench"
	"github.com/sessiongen/sessiongen/runtime/memcache"
)

// BenchmarkMemcached times the A-D scenarios (A read, B write, C anonymous,
// D login) through the middleware on a
// real memcached, next to the raw gomemcache round trips each one needs
// (the floor), in the same run.
func BenchmarkMemcached(b *testing.B) {
	srv := servers.StartMemcached(b)
	store, err := memcache.New(srv.Addr)
	if err != nil {
		b.Fatal(err)
	}
	storebench.Run(b, store)
	b.Run("owned", func(b *testing.B) { storebench.RunOwned(b, store) }) // the same, with an owner field

	// The floor: the same round trips with gomemcache alone, on a record
	// of the same size.
	raw := gomemcache.New(srv.Addr)
	raw.MaxIdleConns = memcache.DefaultMaxIdleConns
	value := storebench.Record
	raw.Set(&gomemcache.Item{Key: "raw", Value: value, Expiration: 3600})
	b.Run("raw-get", func(b *testing.B) {
		for range b.N {
			if _, err := raw.Get("raw"); err != nil {
				b.Fatal(err)
			}
		}
	})
	other := append([]byte("y"), value[1:]...)
	b.Run("raw-get+cas", func(b *testing.B) {
		for i := range b.N {
			it, err := raw.Get("raw")
			if err != nil {
				b.Fatal(err)
			}
			it.Expiration = 3600
			if i%2 == 0 { // each write changes the value
				it.Value = other
			} else {
				it.Value = value
			}
			if err := raw.CompareAndSwap(it); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("raw-add", func(b *testing.B) {
		prefix := strconv.FormatInt(time.Now().UnixNano(), 36)
		for i := range b.N {
			if err := raw.Add(&gomemcache.Item{Key: prefix + strconv.Itoa(i), Value: value, Expiration: 3600}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkReplicas times A-D on three servers with one replica and with
// two, in the same run: a read asks both replicas at once, a save waits
// for the primary's compare-and-swap only. Beside them, the raw client's
// floor: one get, and a get on each of two servers, in turn and at once.
// On loopback a round trip is CPU rather than waiting, so two gets cost
// about twice one whichever way they are sent; BenchmarkReplicasOverANetwork
// shows the cost where round trips are waited for.
func BenchmarkReplicas(b *testing.B) {
	srvs := []*servers.MemcachedServer{servers.StartMemcached(b), servers.StartMemcached(b), servers.StartMemcached(b)}
	addrs := []string{srvs[0].Addr, srvs[1].Addr, srvs[2].Addr}
	for _, n := range []int{1, 2} {
		store, err := memcache.NewWithOptions(addrs, memcache.WithReplicas(n))
		if err != nil {
			b.Fatal(err)
		}
		b.Run("replicas="+strconv.Itoa(n), func(b *testing.B) { storebench.Run(b, store) })
	}

	// The floor: one gomemcache get, and a get on two servers, in turn and
	// at once.
	var raw []*gomemcache.Client
	for _, a := range addrs[:2] {
		c := gomemcache.New(a)
		c.MaxIdleConns = memcache.DefaultMaxIdleConns
		c.Set(&gomemcache.Item{Key: "raw", Value: storebench.Record, Expiration: 3600})
		raw = append(raw, c)
	}
	b.Run("raw-get", func(b *testing.B) {
		for range b.N {
			if _, err := raw[0].Get("raw"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("raw-get-on-two-in-turn", func(b *testing.B) {
		for range b.N {
			for _, c := range raw {
				if _, err := c.Get("raw"); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("raw-get-on-two", func(b *testing.B) {
		for range b.N {
			var wg sync.WaitGroup
			var err1 error
			wg.Add(1)
			go func() { defer wg.Done(); _, err1 = raw[1].Get("raw") }()
			_, err0 := raw[0].Get("raw")
			wg.Wait()
			if err0 != nil || err1 != nil {
				b.Fatal(err0, err1)
			}
		}
	})
}

// BenchmarkReplicasOverANetwork is BenchmarkReplicas with each server
// behind a proxy that holds every chunk for 1 ms each way (time.Sleep's
// resolution here makes a round trip about 2.4 ms: a slow network, or
// servers in another zone), where the time goes to waiting rather than to
// the CPU: there the replicas' parallel requests cost one round trip.
func BenchmarkReplicasOverANetwork(b *testing.B) {
	var addrs []string
	for range 3 {
		srv := servers.StartMemcached(b)
		addrs = append(addrs, delayed(b, srv.Addr, time.Millisecond))
	}
	for _, n := range []int{1, 2} {
		store, err := memcache.NewWithOptions(addrs, memcache.WithReplicas(n))
		if err != nil {
			b.Fatal(err)
		}
		b.Run("replicas="+strconv.Itoa(n), func(b *testing.B) { storebench.Run(b, store) })
	}
}

// delayed starts a proxy to addr that holds every chunk for d before
// passing it on, in both directions, and returns its address.
func delayed(tb testing.TB, addr string, d time.Duration) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { l.Close() })
	pipe := func(dst, src net.Conn) {
		defer dst.Close()
		buf := make([]byte, 64<<10)
		for {
			n, err := src.Read(buf)
			if err != nil {
				return
			}
			time.Sleep(d)
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", addr)
			if err != nil {
				c.Close()
				continue
			}
			go pipe(s, c)
			go pipe(c, s)
		}
	}()
	return l.Addr().String()
}
