package otelsession_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"go.opentelemetry.io/otel/codes"

	"github.com/sessiongen/sessiongen/runtime"
)

// failing is a store whose loads fail while fail is set.
type failing struct {
	runtime.Store
	fail atomic.Bool
}

func (f *failing) Load(ctx context.Context, key string) ([]byte, uint64, error) {
	if f.fail.Load() {
		return nil, 0, fmt.Errorf("test outage: %w", runtime.ErrUnavailable)
	}
	return f.Store.Load(ctx, key)
}

// TestLogsCarryTheTrace: a store outage is a load span with the outcome
// "unavailable" and an error status, and the runtime's log line about it
// carries the trace and span IDs of the request it failed.
func TestLogsCarryTheTrace(t *testing.T) {
	mem := runtime.NewMemoryStore()
	defer mem.Close()
	store := &failing{Store: mem}
	r := newRig(t, store, "custom")
	_, cookie := r.do(0, "/login", "")
	r.trees()

	store.fail.Store(true)
	if w := r.send(0, "/read", cookie); w.Code != http.StatusServiceUnavailable {
		t.Fatalf("a read during the outage: %d, want 503", w.Code)
	}
	spans := r.spans.Ended()
	var request, load string
	for _, s := range spans {
		switch s.Name() {
		case "GET /read":
			request = s.SpanContext().TraceID().String() + " " + s.SpanContext().SpanID().String()
		case "sessiongen.load":
			load = s.Status().Description
			if s.Status().Code != codes.Error {
				t.Errorf("the failed load's span status is %v, want Error", s.Status().Code)
			}
		}
	}
	if request == "" || load != "unavailable" {
		t.Fatalf("spans of the failed read: request %q, load status %q; want a request span and a load span marked unavailable", request, load)
	}
	traceID, spanID, _ := strings.Cut(request, " ")
	var line string
	for _, l := range strings.Split(r.logs.String(), "\n") {
		if strings.Contains(l, "level=ERROR") && strings.Contains(l, "unavailable") {
			line = l
		}
	}
	if line == "" {
		t.Fatalf("no ERROR line about the outage in\n%s", r.logs.String())
	}
	if !strings.Contains(line, "trace_id="+traceID) || !strings.Contains(line, "span_id="+spanID) {
		t.Errorf("the outage's log line does not name the request's trace %s and span %s:\n%s", traceID, spanID, line)
	}
}
