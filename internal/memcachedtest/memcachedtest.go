// Package memcachedtest starts real memcached servers for tests: on a free
// loopback port, stopped by their pid when the test ends, and controllable
// for fault injection (kill, pause, restart).
package memcachedtest

import (
	"bufio"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// InstallHint is how to get the binary on Debian and Ubuntu.
const InstallHint = "apt-get install memcached"

// Server is a memcached process a test started.
type Server struct {
	tb     testing.TB
	Addr   string // 127.0.0.1:port
	args   []string
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has exited and been waited for
}

// Start starts memcached with extra arguments (e.g. "-m", "8"). Without
// the binary the test is skipped, or fails when SESSIONGEN_REQUIRE_MEMCACHED=1.
func Start(tb testing.TB, args ...string) *Server {
	tb.Helper()
	bin, err := exec.LookPath("memcached")
	if err != nil {
		if os.Getenv("SESSIONGEN_REQUIRE_MEMCACHED") == "1" {
			tb.Fatalf("memcached is not installed (%s), and SESSIONGEN_REQUIRE_MEMCACHED=1", InstallHint)
		}
		tb.Skipf("memcached is not installed: %s (or run scripts/test.sh, which installs it)", InstallHint)
	}
	for attempt := 1; ; attempt++ {
		port, err := freePort()
		if err != nil {
			tb.Fatal(err)
		}
		s := &Server{tb: tb, Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}
		s.args = append([]string{bin, "-l", "127.0.0.1", "-p", strconv.Itoa(port), "-U", "0", "-t", "2"}, args...)
		if os.Geteuid() == 0 {
			s.args = append(s.args, "-u", "root")
		}
		err = s.start()
		if err == nil {
			tb.Cleanup(s.Stop)
			return s
		}
		if attempt == 3 {
			tb.Fatal(err)
		}
	}
}

// start runs the process and waits until it listens; an error means it
// exited or never listened (the port was taken after all).
func (s *Server) start() error {
	s.cmd = exec.Command(s.args[0], s.args[1:]...)
	s.cmd.Stderr = os.Stderr
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("start memcached: %w", err)
	}
	exited := make(chan struct{})
	s.exited = exited
	go func() { s.cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.Addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-exited:
			s.cmd = nil
			return fmt.Errorf("memcached exited before listening on %s", s.Addr)
		default:
		}
		if time.Now().After(deadline) {
			s.Stop()
			return fmt.Errorf("memcached did not listen on %s: %w", s.Addr, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Stop kills the process and waits for it. It is idempotent.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGCONT) // a paused process cannot die
	s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
}

// Restart stops the process and starts a new one on the same port: every
// item is gone, as after a real restart.
func (s *Server) Restart() {
	s.tb.Helper()
	s.Stop()
	if err := s.start(); err != nil {
		s.tb.Fatal(err)
	}
}

// Pause stops the process with SIGSTOP, and waits until it has stopped
// (kill returns before the signal lands): connections then hang.
func (s *Server) Pause() {
	s.tb.Helper()
	s.cmd.Process.Signal(syscall.SIGSTOP)
	stat := fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid)
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		b, err := os.ReadFile(stat)
		if err != nil {
			return // no /proc: the best we can do is the signal
		}
		// The state follows the command name in parentheses: "pid (comm) T ...".
		if i := strings.LastIndexByte(string(b), ')'); i >= 0 && strings.HasPrefix(string(b[i:]), ") T") {
			return
		}
	}
	s.tb.Fatalf("memcached (pid %d) did not stop after SIGSTOP", s.cmd.Process.Pid)
}

// Resume continues a paused process.
func (s *Server) Resume() { s.cmd.Process.Signal(syscall.SIGCONT) }

// Stats returns the server's "stats" counters.
func (s *Server) Stats() map[string]int64 {
	s.tb.Helper()
	return s.stats("stats\r\n")
}

// Keys returns the keys memcached holds, from "lru_crawler metadump all".
func (s *Server) Keys() []string {
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
func (s *Server) Set(key string, value []byte) {
	s.tb.Helper()
	c := s.conn()
	defer c.Close()
	fmt.Fprintf(c, "set %s 0 3600 %d\r\n%s\r\n", key, len(value), value)
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || line != "STORED\r\n" {
		s.tb.Fatalf("raw set: %q %v", line, err)
	}
}

func (s *Server) stats(cmd string) map[string]int64 {
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
func (s *Server) conn() net.Conn {
	s.tb.Helper()
	c, err := net.DialTimeout("tcp", s.Addr, time.Second)
	if err != nil {
		s.tb.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	return c
}

// freePort returns a free port below Linux's ephemeral range
// (32768-60999), so that no outgoing connection of another test can take
// it between this check and memcached's bind.
func freePort() (int, error) {
	for range 100 {
		var b [2]byte
		rand.Read(b[:])
		port := 20000 + int(binary.BigEndian.Uint16(b[:]))%12000
		if l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port))); err == nil {
			l.Close()
			return port, nil
		}
	}
	return 0, fmt.Errorf("no free port found between 20000 and 32000")
}
