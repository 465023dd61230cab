package servers

import (
	"bufio"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// memcachedHint is how to get the binary on Debian and Ubuntu.
const memcachedHint = "apt-get install memcached"

// MemcachedServer is a memcached process a test started.
type MemcachedServer struct {
	*Process
	tb testing.TB
}

// StartMemcached starts memcached with extra arguments (e.g. "-m", "8"). Without
// the binary the test is skipped, or fails when SESSIONGEN_REQUIRE_MEMCACHED=1.
func StartMemcached(tb testing.TB, args ...string) *MemcachedServer {
	tb.Helper()
	bin := Binary(tb, "memcached", "SESSIONGEN_REQUIRE_MEMCACHED", memcachedHint)
	p := StartProcess(tb, ProcessConfig{
		Name: "memcached",
		Args: func(port int) []string {
			a := append([]string{bin, "-l", "127.0.0.1", "-p", strconv.Itoa(port), "-U", "0", "-t", "2"}, args...)
			if os.Geteuid() == 0 {
				a = append(a, "-u", "root") // memcached refuses to run as root without it
			}
			return a
		},
	})
	return &MemcachedServer{Process: p, tb: tb}
}

// Stats returns the server's "stats" counters.
func (s *MemcachedServer) Stats() map[string]int64 {
	s.tb.Helper()
	return s.stats("stats\r\n")
}

// Keys returns the keys memcached holds, from "lru_crawler metadump all".
func (s *MemcachedServer) Keys() []string {
	s.tb.Helper()
	c := s.conn()
	defer c.Close()
	fmt.Fprint(c, "lru_crawler metadump all\r\n")
	var keys []string
	sc := bufio.NewScanner(c)
	for sc.Scan() {
		line := sc.Text()
		if line == "END" {
			break
		}
		if k, ok := strings.CutPrefix(line, "key="); ok {
			k = strings.Fields(k)[0]
			if u, err := url.QueryUnescape(k); err == nil { // metadump escapes keys
				k = u
			}
			keys = append(keys, k)
		}
	}
	return keys
}

// Set writes a raw item, bypassing any client: for corrupt-record tests.
func (s *MemcachedServer) Set(key string, value []byte) {
	s.tb.Helper()
	c := s.conn()
	defer c.Close()
	fmt.Fprintf(c, "set %s 0 3600 %d\r\n%s\r\n", key, len(value), value)
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || line != "STORED\r\n" {
		s.tb.Fatalf("raw set: %q %v", line, err)
	}
}

func (s *MemcachedServer) stats(cmd string) map[string]int64 {
	c := s.conn()
	defer c.Close()
	fmt.Fprint(c, cmd)
	out := map[string]int64{}
	sc := bufio.NewScanner(c)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 1 && f[0] == "END" {
			break
		}
		if len(f) == 3 && f[0] == "STAT" {
			if n, err := strconv.ParseInt(f[2], 10, 64); err == nil {
				out[f[1]] = n
			}
		}
	}
	return out
}

// conn is a raw connection to the server, for protocol commands no client
// offers; it fails the test if the server does not answer.
func (s *MemcachedServer) conn() net.Conn {
	s.tb.Helper()
	c, err := net.DialTimeout("tcp", s.Addr, time.Second)
	if err != nil {
		s.tb.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	return c
}
