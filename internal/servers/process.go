// Package servers starts the real servers the tests run against:
// memcached, Redis (and a Redis Cluster), PostgreSQL, MariaDB and FerretDB (for
// MongoDB), each on a free loopback port, stopped by its pid when the test
// ends, and controllable for fault injection (kill, pause, restart).
package servers

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Binary returns the path of a server binary, looked up in PATH and then
// in dirs. Without it the test is skipped, or fails when the environment
// variable require is "1" (the README's test command and CI set it): a
// missing server must never pass as a skipped test there.
func Binary(tb testing.TB, name, require, installHint string, dirs ...string) string {
	tb.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, d := range dirs {
		if p := d + "/" + name; isExecutable(p) {
			return p
		}
	}
	if os.Getenv(require) == "1" {
		tb.Fatalf("%s is not installed (%s), and %s=1", name, installHint, require)
	}
	tb.Skipf("%s is not installed: %s (or run scripts/test.sh, which installs it)", name, installHint)
	return ""
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// ProcessConfig describes a server to start.
type ProcessConfig struct {
	// Name is the server's name in messages.
	Name string
	// Args returns the command line (binary first) for a port.
	Args func(port int) []string
	// Ready, if set, reports whether the server is ready to serve;
	// otherwise a successful dial of its port is.
	Ready func(addr string) bool
	// Credential, if set, runs the process as another user.
	Credential *syscall.Credential
	// Dir is the working directory.
	Dir string
	// Kill is the signal Stop sends: SIGKILL unless set (PostgreSQL's
	// SIGQUIT is its own crash-like immediate shutdown, which ends its
	// backends too).
	Kill syscall.Signal
}

// Process is a server process a test started.
type Process struct {
	tb     testing.TB
	cfg    ProcessConfig
	Addr   string // 127.0.0.1:port
	Port   int
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has exited and been waited for
	log    *logBuffer    // what the server printed, shown if the test fails
}

// logBuffer keeps what a server prints.
type logBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b = append(l.b, p...)
	return len(p), nil
}

func (l *logBuffer) tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.b[max(0, len(l.b)-n):])
}

// StartProcess starts the server on a free port, trying another port if the
// first is taken meanwhile, and stops it when the test ends.
func StartProcess(tb testing.TB, cfg ProcessConfig) *Process {
	tb.Helper()
	for attempt := 1; ; attempt++ {
		port, err := FreePort()
		if err != nil {
			tb.Fatal(err)
		}
		p := &Process{tb: tb, cfg: cfg, Port: port, Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), log: new(logBuffer)}
		err = p.start()
		if err == nil {
			tb.Cleanup(func() {
				p.Stop()
				if tb.Failed() {
					tb.Logf("%s on %s said:\n%s", cfg.Name, p.Addr, p.log.tail(4096))
				}
			})
			return p
		}
		if attempt == 3 {
			tb.Fatalf("%v\n%s", err, p.log.tail(4096))
		}
	}
}

// start runs the process and waits until it is ready; an error means it
// exited or never got ready (the port was taken after all).
func (p *Process) start() error {
	args := p.cfg.Args(p.Port)
	p.cmd = exec.Command(args[0], args[1:]...)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	p.cmd.Dir = p.cfg.Dir
	// Its own process group, so that signals reach a server's children
	// too (PostgreSQL's backends keep serving when only the postmaster
	// is stopped).
	// Killed with the test binary too: a test that times out panics
	// without running its cleanups, which would leave the server behind.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: p.cfg.Credential, Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", p.cfg.Name, err)
	}
	exited := make(chan struct{})
	p.exited = exited
	go func() { p.cmd.Wait(); close(exited) }()
	ready := p.cfg.Ready
	if ready == nil {
		ready = func(addr string) bool {
			c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
			if err == nil {
				c.Close()
			}
			return err == nil
		}
	}
	for deadline := time.Now().Add(20 * time.Second); ; {
		if ready(p.Addr) {
			return nil
		}
		select {
		case <-exited:
			p.cmd = nil
			return fmt.Errorf("%s exited before it got ready on %s", p.cfg.Name, p.Addr)
		default:
		}
		if time.Now().After(deadline) {
			p.Stop()
			return fmt.Errorf("%s did not get ready on %s", p.cfg.Name, p.Addr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Pid returns the process ID, or 0 when it is not running.
func (p *Process) Pid() int {
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Stop kills the process (SIGKILL, or ProcessConfig.Kill: no chance to save
// anything) and waits for it. It is idempotent.
func (p *Process) Stop() {
	if p.cfg.Kill != 0 {
		p.stop(p.cfg.Kill)
		return
	}
	p.stop(syscall.SIGKILL)
}

// Shutdown stops the process with SIGTERM, the way a service manager
// does, and waits for it to exit.
func (p *Process) Shutdown() { p.stop(syscall.SIGTERM) }

func (p *Process) stop(sig syscall.Signal) {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	pg := -p.cmd.Process.Pid
	syscall.Kill(pg, syscall.SIGCONT) // a paused process cannot die
	syscall.Kill(p.cmd.Process.Pid, sig)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		<-p.exited
	}
	syscall.Kill(pg, syscall.SIGKILL) // what is left of the group
	p.cmd = nil
}

// Restart kills the process and starts a new one on the same port and
// with the same arguments: what it keeps on disk survives, nothing else.
func (p *Process) Restart() {
	p.tb.Helper()
	p.Stop()
	if err := p.start(); err != nil {
		p.tb.Fatal(err)
	}
}

// Pause stops the process with SIGSTOP, and waits until it has stopped
// (kill returns before the signal lands): connections then hang.
func (p *Process) Pause() {
	p.tb.Helper()
	p.signalTree(syscall.SIGSTOP)
	stat := fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid)
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
	p.tb.Fatalf("%s (pid %d) did not stop after SIGSTOP", p.cfg.Name, p.cmd.Process.Pid)
}

// Resume continues a paused process.
func (p *Process) Resume() { p.signalTree(syscall.SIGCONT) }

// signalTree signals the process and all its descendants: PostgreSQL's
// backends each lead a process group of their own, so signalling the
// group would leave them running.
func (p *Process) signalTree(sig syscall.Signal) {
	pids := []int{p.cmd.Process.Pid}
	children := map[int][]int{}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, f := range stats {
		b, err := os.ReadFile(f)
		i := strings.LastIndexByte(string(b), ')')
		if err != nil || i < 0 {
			continue
		}
		fields := strings.Fields(string(b[i+1:])) // state, ppid, …
		pid, _ := strconv.Atoi(strings.Split(f, "/")[2])
		if len(fields) > 1 {
			ppid, _ := strconv.Atoi(fields[1])
			children[ppid] = append(children[ppid], pid)
		}
	}
	for i := 0; i < len(pids); i++ {
		pids = append(pids, children[pids[i]]...)
	}
	for _, pid := range pids {
		syscall.Kill(pid, sig)
	}
}

// FreePort returns a free port below Linux's ephemeral range
// (32768-60999), so that no outgoing connection of another test can take
// it between this check and the server's bind.
func FreePort() (int, error) {
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
