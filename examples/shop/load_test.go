package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessiongen/sessiongen/internal/servers"
)

// TestLoad drives built demo binaries with wrk on each server-side store,
// for scripts/load.sh (which builds them and sets SESSIONGEN_LOAD to
// label=binary,…): a read of a signed-in session, writes to one hot
// session from every connection, and writes spread over 64 sessions. Each
// binary runs in turn against the same server, so that two commits
// compare side by side. It reports requests per second, p99, the store
// operations per request and the failed compare-and-swaps per request as
// the servers count them, and every write acknowledged against those
// kept. It fails only when an acknowledged write is lost or the demo logs
// an ERROR.
func TestLoad(t *testing.T) {
	spec := os.Getenv("SESSIONGEN_LOAD")
	if spec == "" {
		t.Skip("scripts/load.sh runs it")
	}
	var bins [][2]string
	for _, b := range strings.Split(spec, ",") {
		label, path, _ := strings.Cut(b, "=")
		bins = append(bins, [2]string{label, path})
	}
	duration := os.Getenv("SESSIONGEN_LOAD_DURATION")
	if duration == "" {
		duration = "5s"
	}
	only := os.Getenv("SESSIONGEN_LOAD_STORES") // e.g. "redis,postgres"
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		t.Fatal("wrk is not installed: scripts/load.sh installs it")
	}
	fmt.Printf("%-10s %-10s %-8s %9s %9s %8s %8s %9s %9s %15s %6s\n", "store", "load", "demo", "req/s", "p99", "ops/req", "badCAS/r", "demo CPU", "srv CPU", "kept/acked", "ERRORs")
	for _, st := range loadStores() {
		if only != "" && !strings.Contains(","+only+",", ","+st.name+",") {
			continue
		}
		t.Run(st.name, func(t *testing.T) {
			url, counters, server := st.start(t)
			for _, sc := range []string{"read", "hot-write", "spread"} {
				for _, bin := range bins {
					r := runLoad(t, wrk, bin[1], url, st, sc, duration, counters, server)
					fmt.Printf("%-10s %-10s %-8s %9.0f %9s %8s %8s %9s %9s %15s %6d\n", st.name, sc, bin[0], r.rps, r.p99,
						perReq(r.ops, r.requests), perReq(r.badCAS, r.requests), cpuPerReq(r.demoCPU, r.requests), cpuPerReq(r.serverCPU, r.requests), r.keptText(), r.errors)
					if r.kept < r.acked || r.errors > 0 {
						t.Errorf("%s %s %s: %d writes kept of %d acknowledged, %d ERROR lines", st.name, sc, bin[0], r.kept, r.acked, r.errors)
					}
				}
			}
		})
	}
}

// loadStore is a store the load runs on: how to start its server, and
// its counters (store operations, failed compare-and-swaps), read before
// and after a run; nil where the server counts nothing.
type loadStore struct {
	name  string
	start func(t *testing.T) (url string, counters func() (ops, badCAS int64), server int)
	// noCAS: the server counts statements, not the compare-and-swaps
	// among them that failed.
	noCAS bool
}

func loadStores() []loadStore {
	return []loadStore{
		{name: "memory", start: func(t *testing.T) (string, func() (int64, int64), int) { return "memory:", nil, 0 }},
		{name: "memcached", start: func(t *testing.T) (string, func() (int64, int64), int) {
			srv := servers.StartMemcached(t, "-m", "256")
			return "memcached://" + srv.Addr, func() (int64, int64) {
				s := srv.Stats()
				return s["cmd_get"] + s["cmd_set"] + s["cmd_touch"] + s["delete_hits"] + s["delete_misses"], s["cas_badval"]
			}, srv.Pid()
		}},
		{name: "redis", start: func(t *testing.T) (string, func() (int64, int64), int) {
			srv := servers.StartRedis(t)
			return srv.URL(), func() (int64, int64) {
				// Commandstats counts the commands a script runs too: the
				// compare-and-swap script's GETRANGE, and its SET when it
				// writes. No session is created during a load (the
				// visitors sign in first), so every SET is a script's
				// write, and the scripts that did not write failed.
				var all int64
				calls := srv.Calls()
				for cmd, n := range calls {
					if cmd != "info" {
						all += n
					}
				}
				return all - calls["getrange"] - calls["set"], calls["evalsha"] + calls["eval"] - calls["set"]
			}, srv.Pid()
		}},
		{name: "postgres", start: func(t *testing.T) (string, func() (int64, int64), int) {
			srv := servers.StartPostgres(t, "shared_preload_libraries=pg_stat_statements")
			conn := srv.Conn()
			if _, err := conn.Exec(context.Background(), "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"); err != nil {
				t.Fatal(err)
			}
			return srv.DSN(), func() (int64, int64) {
				var ops, bad int64
				err := conn.QueryRow(context.Background(), `SELECT coalesce(sum(calls), 0)::bigint,
					coalesce(sum(calls - rows) FILTER (WHERE query LIKE 'UPDATE % AND version = %'), 0)::bigint
					FROM pg_stat_statements WHERE query ~* 'sessiongen_sessions|sessions'`).Scan(&ops, &bad)
				if err != nil {
					t.Fatal(err)
				}
				return ops, bad
			}, srv.Pid()
		}},
		{name: "mysql", noCAS: true, start: func(t *testing.T) (string, func() (int64, int64), int) {
			srv := servers.StartMySQL(t)
			db := srv.DB()
			return srv.URL(), func() (int64, int64) {
				var name string
				var questions int64
				if err := db.QueryRow("SHOW GLOBAL STATUS LIKE 'Questions'").Scan(&name, &questions); err != nil {
					t.Fatal(err)
				}
				return questions, 0
			}, srv.Pid()
		}},
		{name: "mongodb", start: func(t *testing.T) (string, func() (int64, int64), int) {
			return servers.StartFerretDB(t).URI("load"), nil, 0 // FerretDB and its PostgreSQL: not one process group
		}},
		{name: "sqlite", start: func(t *testing.T) (string, func() (int64, int64), int) {
			return "sqlite:" + filepath.Join(t.TempDir(), "sessions.db"), nil, 0 // in the demo's process
		}},
	}
}

// loadResult is one wrk run.
type loadResult struct {
	rps           float64
	p99           string
	requests, ops int64
	badCAS        int64         // -1: not counted
	acked, kept   int64         // writes; -1 for a read
	demoCPU       time.Duration // CPU time the demo used
	serverCPU     time.Duration // CPU time the server's processes used; -1 for none
	errors        int           // ERROR lines the demo logged
}

func (r loadResult) keptText() string {
	if r.acked < 0 {
		return "-"
	}
	return fmt.Sprintf("%d/%d", r.kept, r.acked)
}

func perReq(n, requests int64) string {
	if n < 0 || requests == 0 {
		return "-"
	}
	return strconv.FormatFloat(float64(n)/float64(requests), 'f', 2, 64)
}

// runLoad starts the demo binary on store, signs visitors in, runs wrk
// for one scenario and reads the counters and the carts after it.
func runLoad(t *testing.T, wrk, bin, store string, st loadStore, scenario, duration string, counters func() (int64, int64), server int) loadResult {
	port, err := servers.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	logs, err := os.Create(filepath.Join(t.TempDir(), "shop.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logs.Close()
	demo := exec.Command(bin, "-addr", "127.0.0.1:"+strconv.Itoa(port), "-store", store)
	demo.Env = append(os.Environ(), "SESSION_SECRET=load-test-secret-of-at-least-32-bytes")
	demo.Stdout, demo.Stderr = logs, logs
	if err := demo.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { demo.Process.Kill(); demo.Wait() }()
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		if resp, err := http.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Since(start) > 20*time.Second {
			t.Fatalf("%s did not start", bin)
		}
	}
	sessions := 1
	if scenario == "spread" {
		sessions = 64
	}
	cookies := make([]string, sessions)
	for i := range cookies {
		cookies[i] = signIn(t, base, fmt.Sprintf("visitor%d@example.com", i))
	}
	script := loadScript(cookies, scenario != "read")
	path := filepath.Join(t.TempDir(), "load.lua")
	if err := os.WriteFile(path, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	var ops0, bad0 int64
	if counters != nil {
		ops0, bad0 = counters()
	}
	demo0, server0 := cpuOf(demo.Process.Pid, false), cpuOf(server, true)
	out, err := exec.Command(wrk, "-t2", "-c32", "-d"+duration, "--timeout", "5s", "-s", path, base+"/").CombinedOutput()
	if err != nil {
		t.Fatalf("wrk: %v\n%s", err, out)
	}
	r := loadResult{badCAS: -1, acked: -1, ops: -1, demoCPU: cpuOf(demo.Process.Pid, false) - demo0, serverCPU: -1}
	if server != 0 {
		r.serverCPU = cpuOf(server, true) - server0
	}
	var summary struct {
		Requests, Non2xx3xx, Timeouts int64
		P99us                         float64
		Seconds                       float64
	}
	m := regexp.MustCompile(`(?m)^LOAD (\{.*\})$`).FindSubmatch(out)
	if m == nil || json.Unmarshal(m[1], &summary) != nil {
		t.Fatalf("no summary from wrk:\n%s", out)
	}
	r.requests, r.rps = summary.Requests, float64(summary.Requests)/summary.Seconds
	r.p99 = (time.Duration(summary.P99us) * time.Microsecond).Round(10 * time.Microsecond).String()
	if counters != nil {
		ops1, bad1 := counters()
		r.ops = ops1 - ops0
		if !st.noCAS {
			r.badCAS = bad1 - bad0
		}
	}
	if scenario != "read" {
		r.acked = summary.Requests - summary.Non2xx3xx
		for _, c := range cookies {
			r.kept += cartItems(t, base, c)
		}
	}
	logs.Sync()
	r.errors = countErrors(t, logs.Name())
	return r
}

// signIn signs a visitor in and returns the session cookie.
func signIn(t *testing.T, base, email string) string {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err := c.PostForm(base+"/login", url.Values{"email": {email}})
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	u, _ := url.Parse(base)
	for _, ck := range jar.Cookies(u) {
		return ck.Name + "=" + ck.Value
	}
	t.Fatalf("signing %s in set no cookie", email)
	return ""
}

// cartItems reads "Items in the cart: N" from the page of cookie's session.
func cartItems(t *testing.T, base, cookie string) int64 {
	req, _ := http.NewRequest("GET", base+"/", nil)
	req.Header.Set("Cookie", cookie)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`Items in the cart: (\d+)`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no cart on the page:\n%s", b)
	}
	n, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return n
}

// countErrors counts the ERROR lines of the demo's log.
func countErrors(t *testing.T, path string) int {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.Contains(sc.Text(), "ERROR") {
			n++
		}
	}
	return n
}

// loadScript is wrk's Lua: GET / or POST /cart (sku=tea), with the
// cookies taken in turn, and a summary line for the test to read.
func loadScript(cookies []string, write bool) string {
	var b strings.Builder
	b.WriteString("local cookies = {")
	for _, c := range cookies {
		fmt.Fprintf(&b, "%q,", c)
	}
	b.WriteString("}\nlocal n = 0\n")
	if write {
		b.WriteString(`request = function()
  n = n + 1
  return wrk.format("POST", "/cart", {["Content-Type"] = "application/x-www-form-urlencoded", ["Cookie"] = cookies[(n % #cookies) + 1]}, "sku=tea")
end
`)
	} else {
		b.WriteString(`request = function()
  n = n + 1
  return wrk.format("GET", "/", {["Cookie"] = cookies[(n % #cookies) + 1]})
end
`)
	}
	b.WriteString(`done = function(summary, latency, requests)
  io.write(string.format('LOAD {"Requests": %d, "Non2xx3xx": %d, "Timeouts": %d, "P99us": %d, "Seconds": %f}\n',
    summary.requests, summary.errors.status, summary.errors.timeout, latency:percentile(99), summary.duration / 1e6))
end
`)
	return b.String()
}

// cpuOf returns the CPU time (user and system) that process pid used, or
// with group, every process of its process group and its children:
// from /proc, in clock ticks of 10 ms; 0 for pid 0.
func cpuOf(pid int, group bool) time.Duration {
	if pid == 0 {
		return 0
	}
	var ticks int64
	add := func(stat []byte) {
		// pid (comm) state ppid pgrp … utime stime: the fields after the
		// command, which may hold spaces, are state, ppid, pgrp, …, and
		// utime and stime are the 12th and 13th of them.
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(f) < 13 {
			return
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		s, _ := strconv.ParseInt(f[12], 10, 64)
		if !group || f[2] == strconv.Itoa(pid) || f[1] == strconv.Itoa(pid) { // its group, or its children (PostgreSQL's backends lead groups of their own)
			ticks += u + s
		}
	}
	paths := []string{"/proc/" + strconv.Itoa(pid) + "/stat"}
	if group {
		paths, _ = filepath.Glob("/proc/[0-9]*/stat")
	}
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			add(b)
		}
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}

// cpuPerReq formats CPU time per request.
func cpuPerReq(d time.Duration, requests int64) string {
	if d < 0 || requests == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0fµs", float64(d.Microseconds())/float64(requests))
}
