package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessiongen/sessiongen/internal/servers"
)

// TestPrometheusScrapesTheDemo runs the demo with -metrics on Redis, lets
// Debian's Prometheus scrape it while visitors sign in and fill carts,
// and asks Prometheus, through its HTTP API, for the save counter and the
// store-duration histogram: they hold what the demo counted.
func TestPrometheusScrapesTheDemo(t *testing.T) {
	rd := servers.StartRedis(t)
	port, err := servers.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"-addr", addr, "-store", rd.URL(), "-metrics"}) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("the demo: %v", err)
		}
	})
	base := "http://" + addr
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		if resp, err := http.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Since(start) > 10*time.Second {
			t.Fatal("the demo did not start")
		}
	}
	prom := servers.StartPrometheus(t, addr, 500*time.Millisecond)

	// The load: 8 visitors sign in and add 10 items each.
	const visitors, adds = 8, 10
	for v := range visitors {
		c := &http.Client{}
		c.Jar, _ = cookiejar.New(nil)
		post := func(path string, form url.Values) {
			resp, err := c.PostForm(base+path, form)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("POST %s: %d", path, resp.StatusCode)
			}
		}
		post("/login", url.Values{"email": {fmt.Sprintf("visitor%d@example.com", v)}})
		for i := range adds {
			post("/cart", url.Values{"sku": {[]string{"tea", "mug", "pot"}[i%3]}})
		}
	}

	// What the demo's own page says now that the load is over.
	page := func() string {
		resp, err := http.Get(base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	text := page()
	saves := sample(t, text, `sessiongen_saves_total\{[^}]*sessiongen_outcome="ok"[^}]*sessiongen_store="redis"[^}]*\}`)
	if saves < visitors*(adds+1) {
		t.Fatalf("the demo counted %v saves on Redis; want at least %d (a sign-in and %d adds per visitor)\n%s", saves, visitors*(adds+1), adds, text)
	}
	savesTimed := sample(t, text, `sessiongen_store_operation_duration_seconds_count\{[^}]*sessiongen_operation="save",sessiongen_outcome="ok"[^}]*\}`)

	// Prometheus, once it scraped after the load, holds the same.
	query := func(q string) float64 {
		t.Helper()
		var got []servers.Sample
		for start := time.Now(); time.Since(start) < 30*time.Second; time.Sleep(250 * time.Millisecond) {
			if got, err = prom.Query(q); err == nil && len(got) == 1 && got[0].Value >= saves {
				return got[0].Value
			}
		}
		t.Fatalf("Prometheus answers %s with %v (%v); want one series of at least %v", q, got, err, saves)
		return 0
	}
	if got := query(`sum(sessiongen_saves_total{sessiongen_store="redis",sessiongen_outcome="ok"})`); got != saves {
		t.Errorf("Prometheus counts %v saves, the demo %v", got, saves)
	}
	if got := query(`sum(sessiongen_store_operation_duration_seconds_count{sessiongen_store="redis",sessiongen_operation="save",sessiongen_outcome="ok"})`); got != savesTimed || got != saves {
		t.Errorf("Prometheus's histogram holds %v saves, the demo's %v, the counter %v", got, savesTimed, saves)
	}
	p99, err := prom.Query(`histogram_quantile(0.99, sum by (le) (sessiongen_store_operation_duration_seconds_bucket{sessiongen_store="redis",sessiongen_operation="save"}))`)
	if err != nil || len(p99) != 1 || !(p99[0].Value > 0 && p99[0].Value < 2.5) {
		t.Errorf("the p99 of saves from Prometheus's buckets: %v, %v; want one value between 0 and 2.5 s", p99, err)
	}
	t.Logf("Prometheus: %v saves on Redis, p99 %.6f s", saves, p99[0].Value)
}

// sample returns the value of the one series of the Prometheus text page
// whose name and labels match pattern.
func sample(t *testing.T, page, pattern string) float64 {
	t.Helper()
	re := regexp.MustCompile(`(?m)^` + pattern + ` (\S+)$`)
	m := re.FindAllStringSubmatch(page, -1)
	if len(m) != 1 {
		t.Fatalf("%d series match %s in\n%s", len(m), pattern, page)
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(m[0][1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
