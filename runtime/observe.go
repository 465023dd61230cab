package runtime

import (
	"context"
	"errors"
	"time"

	"github.com/sessiongen/sessiongen/runtime/internal/carry"
)

// An Observer is told what a manager's sessions do, for telemetry: each
// store operation as it starts and as it ends, and each lifecycle event.
// Set one as Config.Observer; runtime/otelsession's records OpenTelemetry
// traces and metrics. Its methods are called from the requests'
// goroutines, concurrently, and should return quickly: the request waits.
// They never see a session ID, a cookie or a field value.
type Observer interface {
	// Attach is called once by NewManager, with the manager it observes;
	// detach is called by the manager's Close. An Observer may poll the
	// manager (its Stats, its Store) until then.
	Attach(m *Manager) (detach func())
	// Start is called as a store operation begins, with the request's
	// context (its cancellation removed) and op's Name, Store and Type
	// set. The operation, and any it makes on the way (the reloads of a
	// save that merged), runs under the context Start returns.
	Start(ctx context.Context, op StoreOp) context.Context
	// End is called once the operation ended, with the context Start
	// returned and every field of op set.
	End(ctx context.Context, op StoreOp)
	// Event is called for each lifecycle event, as Config.OnEvent is:
	// once the store confirmed the change, and once across the instances
	// sharing the store.
	Event(ctx context.Context, e Event)
}

// A StoreOp is one operation of a session on its store, as an Observer
// sees it.
type StoreOp struct {
	// Name is what the operation does: "load", "save" (a write, with its
	// compare-and-swap retries and the reloads of a merge), "touch",
	// "delete" (or the end of a record by compare-and-swap), or "index"
	// (an owner's index or revocations: a load, or a load and a
	// compare-and-swap, retried).
	Name string
	// Store names the kind of store: "memory", "memcached", "redis",
	// "postgresql", "mysql", "sqlite", "mongodb", "cookie" (sealed
	// cookies), what a store's Kind method returns, or "custom".
	Store string
	// Type is the session type's name.
	Type string
	// Bytes is the size of the record loaded or written, before
	// Config.EncryptAtRest seals it; 0 for none.
	Bytes int
	// Attempts counts the compare-and-swaps a save or an index write
	// sent: 1 when the first succeeded.
	Attempts int
	// Merged reports a save that lost a compare-and-swap to another
	// writer and merged its changes onto the newer record.
	Merged bool
	// Outcome is "ok", "conflict", "not_found", "unavailable",
	// "outcome_unknown" (a write sent and never answered), or "error"
	// (such as a record too large).
	Outcome  string
	Duration time.Duration
}

// The operations of StoreOp.Name.
const (
	opLoad   = "load"
	opSave   = "save"
	opTouch  = "touch"
	opDelete = "delete"
	opIndex  = "index"
)

// outcome names how an operation that returned err ended.
func outcome(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, ErrConflict):
		return "conflict"
	case errors.Is(err, ErrNotFound):
		return "not_found"
	case errors.Is(err, ErrOutcomeUnknown):
		return "outcome_unknown"
	case errors.Is(err, ErrUnavailable):
		return "unavailable"
	}
	return "error"
}

// storeKind names store for StoreOp.Store.
func storeKind(store Store) string {
	switch s := store.(type) {
	case nil:
		return "cookie"
	case *MemoryStore:
		return "memory"
	case interface{ Kind() string }:
		return s.Kind()
	}
	return "custom"
}

// observing is a store operation under way, for the Observer. Its zero
// value, when the manager has none, records nothing.
type observing struct {
	op    StoreOp
	start time.Time
}

// observe starts an operation: with an Observer, it returns the context
// the operation runs under.
func (m *Manager) observe(ctx context.Context, name string) (context.Context, observing) {
	if m.obs == nil {
		return ctx, observing{}
	}
	o := observing{op: StoreOp{Name: name, Store: m.kind, Type: m.schema.Name}, start: time.Now()}
	return m.obs.Start(ctx, o.op), o
}

// observed ends an operation that returned err, unless the Observer
// never saw it start.
func (m *Manager) observed(ctx context.Context, o *observing, err error) {
	if o.op.Name == "" {
		return
	}
	o.op.Duration = time.Since(o.start)
	if o.op.Outcome == "" {
		o.op.Outcome = outcome(err)
	}
	m.obs.End(ctx, o.op)
}

// observedCarrier reports each operation of the manager's carrier to its
// Observer. The save path's own writes go to the carrier under it: a
// save is one operation however many compare-and-swaps it takes
// (session.write).
type observedCarrier struct {
	carry.Carrier
	m *Manager
}

// Load loads, as a "load" operation.
func (c observedCarrier) Load(ctx context.Context, t *carry.Trip, key string) ([]byte, uint64, error) {
	ctx, o := c.m.observe(ctx, opLoad)
	rec, ver, err := c.Carrier.Load(ctx, t, key)
	o.op.Bytes = len(rec)
	c.m.observed(ctx, &o, err)
	return rec, ver, err
}

// Save saves, as a "save" operation of one attempt.
func (c observedCarrier) Save(ctx context.Context, t *carry.Trip, key string, rec []byte, ver uint64, expiry time.Time) (uint64, error) {
	ctx, o := c.m.observe(ctx, opSave)
	next, err := c.Carrier.Save(ctx, t, key, rec, ver, expiry)
	o.op.Bytes, o.op.Attempts = len(rec), 1
	c.m.observed(ctx, &o, err)
	return next, err
}

// Touch touches, as a "touch" operation.
func (c observedCarrier) Touch(ctx context.Context, t *carry.Trip, key string, expiry time.Time) error {
	ctx, o := c.m.observe(ctx, opTouch)
	err := c.Carrier.Touch(ctx, t, key, expiry)
	c.m.observed(ctx, &o, err)
	return err
}

// Delete deletes, as a "delete" operation.
func (c observedCarrier) Delete(ctx context.Context, t *carry.Trip, key string) error {
	ctx, o := c.m.observe(ctx, opDelete)
	err := c.Carrier.Delete(ctx, t, key)
	c.m.observed(ctx, &o, err)
	return err
}

// Retire ends a record by compare-and-swap, as a "delete" operation; a
// sealed cookie has nothing to retire, and no operation to report.
func (c observedCarrier) Retire(ctx context.Context, t *carry.Trip, key string, ver uint64, expiry time.Time) error {
	if c.m.store == nil {
		return c.Carrier.Retire(ctx, t, key, ver, expiry)
	}
	ctx, o := c.m.observe(ctx, opDelete)
	err := c.Carrier.Retire(ctx, t, key, ver, expiry)
	o.op.Attempts = 1
	c.m.observed(ctx, &o, err)
	return err
}

// attachObserver sets m up to report to its Config.Observer: its carrier
// wrapped, its lifecycle events passed on (which makes ending a session a
// compare-and-swap first, as with Config.OnEvent, so that each is counted
// once).
func (m *Manager) attachObserver() {
	m.saver = m.carrier
	if m.obs == nil {
		return
	}
	m.kind = storeKind(m.raw)
	m.carrier = observedCarrier{Carrier: m.carrier, m: m}
	user, obs := m.onEvent, m.obs
	m.onEvent = func(ctx context.Context, e Event) {
		obs.Event(ctx, e)
		if user != nil {
			user(ctx, e)
		}
	}
	m.detach = obs.Attach(m)
}
