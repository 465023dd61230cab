package otelsession_test

import (
	"context"
	"sync/atomic"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/sessiongen/sessiongen/internal/servers"
	"github.com/sessiongen/sessiongen/internal/storebench"
	"github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/otelsession"
	"github.com/sessiongen/sessiongen/runtime/redis"
)

// BenchmarkObserver times A–D without an Observer and with otelsession's
// recording through the OpenTelemetry SDK (every span sampled, ended and
// exported to an exporter that counts them; metrics aggregated for a
// manual reader), on the memory store and on Redis, side by side.
func BenchmarkObserver(b *testing.B) {
	mem := runtime.NewMemoryStore()
	defer mem.Close()
	srv := servers.StartRedis(b)
	rd, err := redis.New(srv.URL())
	if err != nil {
		b.Fatal(err)
	}
	defer rd.Close()
	for _, st := range []struct {
		name  string
		store runtime.Store
	}{{"memory", mem}, {"redis", rd}} {
		b.Run(st.name+"/without", func(b *testing.B) { storebench.Run(b, st.store) })
		b.Run(st.name+"/otel", func(b *testing.B) {
			var spans counter
			tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sdktrace.NewSimpleSpanProcessor(&spans)))
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
			obs := otelsession.New(otelsession.WithTracerProvider(tp), otelsession.WithMeterProvider(mp))
			storebench.RunConfig(b, runtime.Config{Store: st.store, Observer: obs})
			if spans.n.Load() == 0 && b.N > 1 {
				b.Fatal("no span was exported")
			}
		})
	}
}

// counter is a span exporter that counts what it is given.
type counter struct{ n atomic.Int64 }

func (c *counter) ExportSpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	c.n.Add(int64(len(spans)))
	return nil
}

func (c *counter) Shutdown(context.Context) error { return nil }
