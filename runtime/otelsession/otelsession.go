// Package otelsession records what sessions do as OpenTelemetry traces
// and metrics: set New's Observer as runtime.Config.Observer.
//
// Each store operation of a session is a span, a child of the span the
// request's context carries: sessiongen.load, sessiongen.save (with its
// compare-and-swap attempts and the reloads of a merge under it),
// sessiongen.touch, sessiongen.delete and sessiongen.index (an owner's
// index or revocations). Its attributes say which store, how many bytes,
// how many attempts, whether the save merged, and the outcome; never the
// session ID, the cookie or a field value.
//
// The metrics:
//
//	sessiongen.store.operation.duration  histogram, s       store, operation, outcome, type
//	sessiongen.record.size               histogram, By      store, operation, type
//	sessiongen.saves                     counter, {save}    store, outcome, type
//	sessiongen.save.merges               counter, {merge}   store, type
//	sessiongen.session.events            counter, {event}   event: created, regenerated, renewed, destroyed, evicted, expired
//	sessiongen.memory_store.records      gauge, {record}    the records runtime.MemoryStores hold (MemoryStore.Len)
//
// This is the only package of sessiongen that imports OpenTelemetry: a
// program that does not import it does not link it.
package otelsession

import (
	"context"
	"sync"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/sessiongen/sessiongen/runtime"
)

// scope is the instrumentation scope of the spans and metrics.
const scope = "github.com/sessiongen/sessiongen/runtime/otelsession"

// An Option configures New.
type Option func(*config)

type config struct {
	tp trace.TracerProvider
	mp metric.MeterProvider
}

// WithTracerProvider records spans with tp. Default: otel's global
// TracerProvider.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *config) { c.tp = tp }
}

// WithMeterProvider records metrics with mp. Default: otel's global
// MeterProvider.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) { c.mp = mp }
}

// The attribute keys.
const (
	keyStore     = attribute.Key("sessiongen.store")
	keyOperation = attribute.Key("sessiongen.operation")
	keyOutcome   = attribute.Key("sessiongen.outcome")
	keyType      = attribute.Key("sessiongen.type")
	keyEvent     = attribute.Key("sessiongen.event")
	keyBytes     = attribute.Key("sessiongen.record.bytes")
	keyAttempts  = attribute.Key("sessiongen.cas.attempts")
	keyMerged    = attribute.Key("sessiongen.save.merged")
)

// observer is New's runtime.Observer.
type observer struct {
	tracer   trace.Tracer
	meter    metric.Meter
	duration metric.Float64Histogram
	size     metric.Int64Histogram
	saves    metric.Int64Counter
	merges   metric.Int64Counter
	events   metric.Int64Counter
	live     metric.Int64ObservableGauge

	mu     sync.Mutex
	stores map[*runtime.MemoryStore]int // attached memory stores, with how many managers use each
	reg    metric.Registration

	// The attribute sets and span options of the few label combinations
	// there are, made once each: building them per operation cost more
	// than the rest of the recording.
	cacheMu sync.RWMutex
	sets    map[labels]metric.MeasurementOption
	starts  map[labels][]trace.SpanStartOption
}

// labels are one combination of a metric's or a span's attributes; an
// empty field is left out. series tells the metrics apart.
type labels struct {
	series                  uint8
	store, typ, op, outcome string
}

// The series of labels.
const (
	seriesDuration uint8 = iota
	seriesSize
	seriesSaves
	seriesMerges
	seriesEvents // outcome holds the event's kind
	seriesStart
)

// set returns the measurement option of l's attributes.
func (o *observer) set(l labels) metric.MeasurementOption {
	return cached(&o.cacheMu, o.sets, l, func() metric.MeasurementOption {
		var kv []attribute.KeyValue
		if l.series == seriesEvents {
			kv = append(kv, keyEvent.String(l.outcome))
		} else {
			kv = append(kv, keyStore.String(l.store), keyType.String(l.typ))
		}
		if l.op != "" {
			kv = append(kv, keyOperation.String(l.op))
		}
		if l.outcome != "" && l.series != seriesEvents {
			kv = append(kv, keyOutcome.String(l.outcome))
		}
		return metric.WithAttributeSet(attribute.NewSet(kv...))
	})
}

// start returns the span start options of an operation on store, of
// session type typ.
func (o *observer) start(store, typ string) []trace.SpanStartOption {
	return cached(&o.cacheMu, o.starts, labels{series: seriesStart, store: store, typ: typ}, func() []trace.SpanStartOption {
		return []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(keyStore.String(store), keyType.String(typ))}
	})
}

// cached returns m[l], which make makes the first time.
func cached[V any](mu *sync.RWMutex, m map[labels]V, l labels, make func() V) V {
	mu.RLock()
	v, ok := m[l]
	mu.RUnlock()
	if ok {
		return v
	}
	v = make()
	mu.Lock()
	m[l] = v
	mu.Unlock()
	return v
}

// New returns an Observer that records spans and metrics through the
// providers its options give. Instruments the meter cannot make are
// reported to otel.Handle and left out.
func New(opts ...Option) runtime.Observer {
	c := config{tp: otel.GetTracerProvider(), mp: otel.GetMeterProvider()}
	for _, o := range opts {
		o(&c)
	}
	o := &observer{
		tracer: c.tp.Tracer(scope),
		meter:  c.mp.Meter(scope),
		stores: map[*runtime.MemoryStore]int{},
		sets:   map[labels]metric.MeasurementOption{},
		starts: map[labels][]trace.SpanStartOption{},
	}
	var err error
	handle := func(e error) {
		if e != nil {
			otel.Handle(e)
		}
	}
	o.duration, err = o.meter.Float64Histogram("sessiongen.store.operation.duration",
		metric.WithUnit("s"), metric.WithDescription("Duration of a session's store operations."),
		metric.WithExplicitBucketBoundaries(0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
	handle(err)
	o.size, err = o.meter.Int64Histogram("sessiongen.record.size",
		metric.WithUnit("By"), metric.WithDescription("Size of the session records loaded and saved."),
		metric.WithExplicitBucketBoundaries(64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 65536, 262144, 1048576))
	handle(err)
	o.saves, err = o.meter.Int64Counter("sessiongen.saves",
		metric.WithUnit("{save}"), metric.WithDescription("Session saves, by outcome."))
	handle(err)
	o.merges, err = o.meter.Int64Counter("sessiongen.save.merges",
		metric.WithUnit("{merge}"), metric.WithDescription("Saves that lost a compare-and-swap to another writer and merged their changes onto its record."))
	handle(err)
	o.events, err = o.meter.Int64Counter("sessiongen.session.events",
		metric.WithUnit("{event}"), metric.WithDescription("Sessions created, regenerated, renewed, destroyed, evicted and expired."))
	handle(err)
	o.live, err = o.meter.Int64ObservableGauge("sessiongen.memory_store.records",
		metric.WithUnit("{record}"), metric.WithDescription("Records the in-memory stores hold: sessions, owners' indexes, and what an ID change leaves for a moment."))
	handle(err)
	return o
}

// Attach watches the manager's store, when it is a runtime.MemoryStore,
// for the records gauge.
func (o *observer) Attach(m *runtime.Manager) (detach func()) {
	ms, ok := m.Store().(*runtime.MemoryStore)
	if !ok || o.live == nil {
		return func() {}
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.stores[ms]++
	if o.reg == nil {
		reg, err := o.meter.RegisterCallback(o.observeLive, o.live)
		if err != nil {
			otel.Handle(err)
		}
		o.reg = reg
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			o.mu.Lock()
			defer o.mu.Unlock()
			if o.stores[ms]--; o.stores[ms] == 0 {
				delete(o.stores, ms)
			}
		})
	}
}

// observeLive reports the records of the attached memory stores.
func (o *observer) observeLive(_ context.Context, obs metric.Observer) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for ms := range o.stores {
		n += ms.Len()
	}
	if len(o.stores) > 0 {
		obs.ObserveInt64(o.live, int64(n))
	}
	return nil
}

// spanNames are the spans' names by operation.
var spanNames = map[string]string{
	"load": "sessiongen.load", "save": "sessiongen.save", "touch": "sessiongen.touch",
	"delete": "sessiongen.delete", "index": "sessiongen.index",
}

// Start starts the operation's span.
func (o *observer) Start(ctx context.Context, op runtime.StoreOp) context.Context {
	name, ok := spanNames[op.Name]
	if !ok {
		name = "sessiongen." + op.Name
	}
	ctx, _ = o.tracer.Start(ctx, name, o.start(op.Store, op.Type)...)
	return ctx
}

// End ends the operation's span and records its metrics.
func (o *observer) End(ctx context.Context, op runtime.StoreOp) {
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		attrs := make([]attribute.KeyValue, 0, 4)
		attrs = append(attrs, keyOutcome.String(op.Outcome))
		if op.Bytes > 0 {
			attrs = append(attrs, keyBytes.Int(op.Bytes))
		}
		if op.Attempts > 0 {
			attrs = append(attrs, keyAttempts.Int(op.Attempts))
		}
		if op.Name == "save" {
			attrs = append(attrs, keyMerged.Bool(op.Merged))
		}
		span.SetAttributes(attrs...)
		if failed(op.Outcome) {
			span.SetStatus(codes.Error, op.Outcome)
		}
		span.End()
	}
	if o.duration != nil {
		o.duration.Record(ctx, op.Duration.Seconds(), o.set(labels{seriesDuration, op.Store, op.Type, op.Name, op.Outcome}))
	}
	if o.size != nil && op.Bytes > 0 && (op.Name == "load" || op.Name == "save") {
		o.size.Record(ctx, int64(op.Bytes), o.set(labels{seriesSize, op.Store, op.Type, op.Name, ""}))
	}
	if op.Name != "save" {
		return
	}
	if o.saves != nil {
		o.saves.Add(ctx, 1, o.set(labels{seriesSaves, op.Store, op.Type, "", op.Outcome}))
	}
	if o.merges != nil && op.Merged {
		o.merges.Add(ctx, 1, o.set(labels{seriesMerges, op.Store, op.Type, "", ""}))
	}
}

// failed reports an outcome that is an error: a missing record is an
// answer, not a failure.
func failed(outcome string) bool {
	return outcome != "ok" && outcome != "not_found"
}

// Event counts a lifecycle event.
func (o *observer) Event(ctx context.Context, e runtime.Event) {
	if o.events == nil {
		return
	}
	o.events.Add(ctx, 1, o.set(labels{series: seriesEvents, outcome: e.Kind.String()}))
}
