package servers

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// prometheusHint is how to get the binary on Debian and Ubuntu.
const prometheusHint = "apt-get install prometheus"

// PrometheusServer is a Prometheus process a test started.
type PrometheusServer struct {
	*Process
	tb testing.TB
}

// StartPrometheus starts Prometheus scraping target (host:port, path
// /metrics) every interval, with its data in a temporary directory.
// Without the binary the test is skipped, or fails when
// SESSIONGEN_REQUIRE_PROMETHEUS=1.
func StartPrometheus(tb testing.TB, target string, interval time.Duration) *PrometheusServer {
	tb.Helper()
	bin := Binary(tb, "prometheus", "SESSIONGEN_REQUIRE_PROMETHEUS", prometheusHint)
	dir := tb.TempDir()
	config := fmt.Sprintf("global:\n  scrape_interval: %s\n  scrape_timeout: %s\nscrape_configs:\n  - job_name: sessiongen\n    static_configs:\n      - targets: [%q]\n",
		interval, interval, target)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(config), 0o644); err != nil {
		tb.Fatal(err)
	}
	p := StartProcess(tb, ProcessConfig{
		Name: "prometheus",
		Dir:  dir,
		Args: func(port int) []string {
			return []string{bin, "--config.file=" + filepath.Join(dir, "prometheus.yml"),
				"--storage.tsdb.path=" + filepath.Join(dir, "data"),
				"--web.listen-address=127.0.0.1:" + strconv.Itoa(port), "--log.level=warn"}
		},
		Ready: func(addr string) bool {
			resp, err := http.Get("http://" + addr + "/-/ready")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		},
	})
	return &PrometheusServer{Process: p, tb: tb}
}

// Sample is one series of a query's answer: its labels and value.
type Sample struct {
	Labels map[string]string
	Value  float64
}

// Query runs an instant PromQL query through the HTTP API.
func (s *PrometheusServer) Query(q string) ([]Sample, error) {
	resp, err := http.Get("http://" + s.Addr + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Status string
		Error  string
		Data   struct {
			Result []struct {
				Metric map[string]string
				Value  [2]any
			}
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("query %s: %w", q, err)
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("query %s: %s", q, body.Error)
	}
	var out []Sample
	for _, r := range body.Data.Result {
		str, _ := r.Value[1].(string)
		v, err := strconv.ParseFloat(str, 64)
		if err != nil {
			return nil, fmt.Errorf("query %s: value %v: %w", q, r.Value[1], err)
		}
		out = append(out, Sample{Labels: r.Metric, Value: v})
	}
	return out, nil
}
