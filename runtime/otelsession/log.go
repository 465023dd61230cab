package otelsession

import (
	"context"
	"log/slog"

	"go.opentelemetry.io/otel/trace"
)

// LogHandler returns a slog.Handler that adds to each record logged with
// a context carrying a span the attributes trace_id and span_id, then
// passes it to h. The runtime logs with the context of the request or
// of the store operation at hand, so its lines tie to their traces:
// set runtime.Config.Logger to slog.New(otelsession.LogHandler(h)). (A
// handler that reads the span from the context itself, such as
// OpenTelemetry's log bridge, needs no wrapping.)
func LogHandler(h slog.Handler) slog.Handler { return logHandler{h} }

type logHandler struct{ slog.Handler }

// Handle adds the trace and span IDs of ctx's span, if it has one.
func (h logHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return h.Handler.Handle(ctx, r)
}

// WithAttrs keeps the wrapping.
func (h logHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return logHandler{h.Handler.WithAttrs(as)}
}

// WithGroup keeps the wrapping.
func (h logHandler) WithGroup(name string) slog.Handler {
	return logHandler{h.Handler.WithGroup(name)}
}
