package otelsession_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/sessiongen/sessiongen/internal/testsession"
	"github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/otelsession"
)

// rig is an application of the Account session type whose managers
// (two, sharing one store, as two instances of the application would)
// report to one otelsession Observer, over an SDK that records every span
// and a manual metric reader. Each request runs under a span of its own,
// as an HTTP instrumentation would start it.
type rig struct {
	t      *testing.T
	store  runtime.Backend
	kind   string // the store's name in telemetry
	spans  *tracetest.SpanRecorder
	tp     *sdktrace.TracerProvider
	reader *sdkmetric.ManualReader
	logs   syncBuffer
	apps   [2]http.Handler
	// hold, when set, is called by /incr between its load and its change.
	hold func()
	// seen collects what must never reach telemetry: IDs, cookies and
	// field values, as the requests met them.
	seen []string
	all  []sdktrace.ReadOnlySpan // every span trees returned
}

func newRig(t *testing.T, store runtime.Backend, kind string) *rig {
	r := &rig{t: t, store: store, kind: kind, spans: tracetest.NewSpanRecorder(), reader: sdkmetric.NewManualReader()}
	r.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(r.spans))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r.reader))
	obs := otelsession.New(otelsession.WithTracerProvider(r.tp), otelsession.WithMeterProvider(mp))
	for i := range r.apps {
		m, err := testsession.NewAccountManager(runtime.Config{
			Store:    store,
			Secrets:  [][]byte{bytes.Repeat([]byte("o"), 32)},
			Logger:   slog.New(otelsession.LogHandler(slog.NewTextHandler(&r.logs, nil))),
			Observer: obs,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		r.apps[i] = r.app(m)
	}
	return r
}

// app serves the scripted routes through m.
func (r *rig) app(m *testsession.AccountManager) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/login", func(w http.ResponseWriter, req *http.Request) { // D
		v := testsession.AccountFrom(req.Context())
		v.Regenerate()
		v.SetUserID(7)
		v.SetDevice(device)
	})
	mux.HandleFunc("/read", func(w http.ResponseWriter, req *http.Request) { // A
		v := testsession.AccountFrom(req.Context())
		fmt.Fprint(w, v.Device())
	})
	mux.HandleFunc("/write", func(w http.ResponseWriter, req *http.Request) { // B
		v := testsession.AccountFrom(req.Context())
		v.SetDevice(v.Device() + req.URL.Query().Get("v"))
	})
	mux.HandleFunc("/anonymous", func(w http.ResponseWriter, req *http.Request) { // C
		fmt.Fprint(w, "hello")
	})
	mux.HandleFunc("/incr", func(w http.ResponseWriter, req *http.Request) {
		v := testsession.AccountFrom(req.Context())
		d := v.Device()
		if r.hold != nil {
			r.hold()
		}
		v.SetDevice(d + "+")
	})
	mux.HandleFunc("/regenerate", func(w http.ResponseWriter, req *http.Request) {
		v := testsession.AccountFrom(req.Context())
		v.Device()
		v.Regenerate()
		v.SetDevice(device + "-regenerated")
	})
	mux.HandleFunc("/logout", func(w http.ResponseWriter, req *http.Request) {
		v := testsession.AccountFrom(req.Context())
		v.Device()
		v.Destroy()
	})
	h := m.Middleware(mux)
	tracer := r.tp.Tracer("test")
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		ctx, span := tracer.Start(req.Context(), "GET "+req.URL.Path, trace.WithSpanKind(trace.SpanKindServer))
		defer span.End()
		h.ServeHTTP(w, req.WithContext(ctx))
	})
}

// device is the field value the visit stores: it must never reach
// telemetry.
const device = "ada-lovelace-laptop"

// do sends one request through instance i with cookie (the whole Cookie
// header, "" for none), and returns the response and the cookie the
// browser holds next.
func (r *rig) do(i int, path, cookie string) (*httptest.ResponseRecorder, string) {
	w := r.send(i, path, cookie)
	if w.Code != http.StatusOK {
		r.t.Fatalf("%s: %d %s", path, w.Code, w.Body)
	}
	next := cookie
	if cs := w.Result().Cookies(); len(cs) > 0 {
		var parts []string
		for _, c := range cs {
			if c.MaxAge >= 0 && c.Value != "" {
				parts = append(parts, c.Name+"="+c.Value)
				r.seen = append(r.seen, c.Value)
				// The signed cookie's ID, before its signature.
				if id, _, ok := strings.Cut(c.Value, "."); ok {
					r.seen = append(r.seen, id)
				}
			}
		}
		next = strings.Join(parts, "; ")
	}
	return w, next
}

// send sends one request through instance i with cookie, and returns the
// response, whatever its status.
func (r *rig) send(i int, path, cookie string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("GET", path, nil)
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	w := httptest.NewRecorder()
	r.apps[i].ServeHTTP(w, req)
	return w
}

// trees returns, per request (its root span's name and start order), its
// span tree as text: one line per span under the request, indented by
// depth, with the attributes the tests check.
func (r *rig) trees() []string {
	ended := r.spans.Ended()
	r.all = append(r.all, ended...)
	children := map[trace.SpanID][]sdktrace.ReadOnlySpan{}
	var roots []sdktrace.ReadOnlySpan
	for _, s := range ended {
		if s.Parent().IsValid() {
			children[s.Parent().SpanID()] = append(children[s.Parent().SpanID()], s)
		} else {
			roots = append(roots, s)
		}
	}
	byStart := func(ss []sdktrace.ReadOnlySpan) {
		sort.SliceStable(ss, func(i, j int) bool { return ss[i].StartTime().Before(ss[j].StartTime()) })
	}
	byStart(roots)
	var out []string
	for _, root := range roots {
		var b strings.Builder
		b.WriteString(root.Name())
		var walk func(s sdktrace.ReadOnlySpan, depth int)
		walk = func(s sdktrace.ReadOnlySpan, depth int) {
			kids := children[s.SpanContext().SpanID()]
			byStart(kids)
			for _, k := range kids {
				fmt.Fprintf(&b, "\n%s%s%s", strings.Repeat("  ", depth), k.Name(), attrsOf(k))
				walk(k, depth+1)
			}
		}
		walk(root, 1)
		out = append(out, b.String())
	}
	r.spans.Reset()
	return out
}

// attrsOf formats the attributes the trees show.
func attrsOf(s sdktrace.ReadOnlySpan) string {
	var kv []string
	for _, a := range s.Attributes() {
		switch a.Key {
		case "sessiongen.outcome", "sessiongen.cas.attempts", "sessiongen.save.merged":
			kv = append(kv, strings.TrimPrefix(string(a.Key), "sessiongen.")+"="+a.Value.String())
		}
	}
	slices.Sort(kv)
	return "[" + strings.Join(kv, " ") + "]"
}

// metrics collects the metrics and returns each data point's value by
// name{attributes} (a histogram's value is its count).
func (r *rig) metrics() map[string]int64 {
	out := map[string]int64{}
	for _, p := range r.points() {
		out[p.name+labels(p.attrs)] = p.value
	}
	return out
}

// point is a data point of a metric.
type point struct {
	name, description, unit string
	attrs                   attribute.Set
	value                   int64 // a histogram's count
}

// points collects the metrics and returns every data point.
func (r *rig) points() []point {
	var rm metricdata.ResourceMetrics
	if err := r.reader.Collect(context.Background(), &rm); err != nil {
		r.t.Fatal(err)
	}
	var out []point
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			add := func(attrs attribute.Set, v int64) {
				out = append(out, point{m.Name, m.Description, m.Unit, attrs, v})
			}
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					add(p.Attributes, p.Value)
				}
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					add(p.Attributes, p.Value)
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					add(p.Attributes, int64(p.Count))
				}
			case metricdata.Histogram[int64]:
				for _, p := range d.DataPoints {
					add(p.Attributes, int64(p.Count))
				}
			default:
				r.t.Fatalf("metric %s: unexpected data %T", m.Name, m.Data)
			}
		}
	}
	return out
}

// labels formats a data point's attributes but the session type (the
// same everywhere here) as {key=value,…}.
func labels(set attribute.Set) string {
	var kv []string
	for _, a := range set.ToSlice() {
		if a.Key != "sessiongen.type" {
			kv = append(kv, strings.TrimPrefix(string(a.Key), "sessiongen.")+"="+a.Value.String())
		}
	}
	slices.Sort(kv)
	return "{" + strings.Join(kv, ",") + "}"
}

// syncBuffer is a bytes.Buffer safe for the requests' goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// leaks returns every string in the spans recorded so far and in the
// metrics that contains an ID, a cookie or a field value the visit met.
func (r *rig) leaks() []string {
	var texts []string
	add := func(kvs ...attribute.KeyValue) {
		for _, a := range kvs {
			texts = append(texts, string(a.Key)+"="+a.Value.String())
		}
	}
	for _, s := range r.all {
		texts = append(texts, s.Name(), s.Status().Description)
		add(s.Attributes()...)
		add(s.Resource().Attributes()...)
		for _, e := range s.Events() {
			texts = append(texts, e.Name)
			add(e.Attributes...)
		}
	}
	for _, p := range r.points() {
		texts = append(texts, p.name, p.description, p.unit)
		add(p.attrs.ToSlice()...)
	}
	var out []string
	for _, text := range texts {
		for _, secret := range append(r.seen, device, "ada-lovelace") {
			if len(secret) >= 8 && strings.Contains(text, secret) {
				out = append(out, text)
			}
		}
	}
	if len(texts) < 20 {
		r.t.Fatalf("only %d strings to scan: the recording is broken", len(texts))
	}
	return out
}
