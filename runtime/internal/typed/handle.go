package typed

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/vmihailenco/msgpack/v5"
)

// Session is the runtime's side of a Handle: the session of one request,
// as package runtime's middleware serves it. Accessors call Lock, Need
// and then the Mark methods with the lock held.
type Session interface {
	Lock()
	Unlock()
	// Need decodes field i from the loaded record on its first use.
	Need(i int)
	// MarkRead records that a getter handed out field i, a reference
	// type that may be changed in place.
	MarkRead(i int)
	// MarkDirty records that a setter changed field i.
	MarkDirty(i int)
	// Update applies an UpdateF call's change to field i, to be replayed
	// on a newer value if another request changes the field meanwhile.
	Update(i int, apply func())
	// Renew gives the session a new ID, as Regenerate, lock held.
	Renew()

	ID() string
	IsNew() bool
	Err() error
	Regenerate()
	Destroy()
	RememberMe(on bool)
	Touch()
	Save(ctx context.Context) error
	Reload(ctx context.Context) error

	Encode(enc *msgpack.Encoder, sc *Schema, d Data) error
	Decode(dec *msgpack.Decoder, sc *Schema, d Data) error
}

// Handle is what a generated session type holds to reach its session.
// The runtime's middleware binds it to the request's session. A value
// made outside the middleware (new(Visit), to encode or decode it) has an
// unbound handle: it holds its fields and the keys it does not know, its
// lifecycle methods do nothing, and Save and Reload fail.
type Handle struct {
	s Session                  // nil until bound
	d atomic.Pointer[detached] // an unbound handle's state, made on first use
}

// detached is what an unbound handle holds: a lock, and the fields another
// version of the code stored, to be written back.
type detached struct {
	mu      sync.Mutex
	unknown []Entry
}

// detached returns the unbound handle's state, making it on first use.
func (h *Handle) detached() *detached {
	if d := h.d.Load(); d != nil {
		return d
	}
	h.d.CompareAndSwap(nil, new(detached))
	return h.d.Load()
}

var errUnbound = errors.New("sessiongen: this session value was not made by a manager's Middleware")

// Bind binds h to s.
func (h *Handle) Bind(s Session) { h.s = s }

// Bound returns the session Bind bound, or nil.
func (h *Handle) Bound() Session { return h.s }

// Lock locks the session and loads it on first use.
func (h *Handle) Lock() {
	if h.s != nil {
		h.s.Lock()
		return
	}
	h.detached().mu.Lock()
}

// Use locks the session, decodes field i on its first use and returns h,
// so that a generated accessor begins with defer s.rt.Use(i).Unlock().
func (h *Handle) Use(i int) *Handle {
	h.Lock()
	h.Need(i)
	return h
}

// Unlock unlocks the session.
func (h *Handle) Unlock() {
	if h.s != nil {
		h.s.Unlock()
		return
	}
	h.detached().mu.Unlock()
}

// Need decodes field i on its first use. Call with the lock held.
func (h *Handle) Need(i int) {
	if h.s != nil {
		h.s.Need(i)
	}
}

// MarkRead records that a getter handed out field i. Lock held.
func (h *Handle) MarkRead(i int) {
	if h.s != nil {
		h.s.MarkRead(i)
	}
}

// MarkDirty records that a setter changed field i. Lock held.
func (h *Handle) MarkDirty(i int) {
	if h.s != nil {
		h.s.MarkDirty(i)
	}
}

// MarkDirtyIf records that a setter changed field i, if changed. Lock
// held.
func (h *Handle) MarkDirtyIf(i int, changed bool) {
	if changed && h.s != nil {
		h.s.MarkDirty(i)
	}
}

// Update applies an UpdateF change to field i. Lock held.
func (h *Handle) Update(i int, apply func()) {
	if h.s != nil {
		h.s.Update(i, apply)
		return
	}
	apply()
}

// Renew gives the session a new ID: the setter of a field tagged renew
// calls it, lock held.
func (h *Handle) Renew() {
	if h.s != nil {
		h.s.Renew()
	}
}

// ID returns the session ID, assigning one to a new session.
func (h *Handle) ID() string {
	if h.s != nil {
		return h.s.ID()
	}
	return ""
}

// IsNew reports whether the request brought no live session.
func (h *Handle) IsNew() bool { return h.s == nil || h.s.IsNew() }

// Err returns the error that kept the session from loading.
func (h *Handle) Err() error {
	if h.s != nil {
		return h.s.Err()
	}
	return nil
}

// Regenerate gives the session a new ID and keeps its data.
func (h *Handle) Regenerate() {
	if h.s != nil {
		h.s.Regenerate()
	}
}

// Destroy ends the session.
func (h *Handle) Destroy() {
	if h.s != nil {
		h.s.Destroy()
	}
}

// RememberMe makes the cookie persistent or a browser-session cookie.
func (h *Handle) RememberMe(on bool) {
	if h.s != nil {
		h.s.RememberMe(on)
	}
}

// Touch moves the idle deadline at the next save.
func (h *Handle) Touch() {
	if h.s != nil {
		h.s.Touch()
	}
}

// Save writes what changed now.
func (h *Handle) Save(ctx context.Context) error {
	if h.s != nil {
		return h.s.Save(ctx)
	}
	return errUnbound
}

// Reload reads the session again.
func (h *Handle) Reload(ctx context.Context) error {
	if h.s != nil {
		return h.s.Reload(ctx)
	}
	return errUnbound
}

// Encode writes d's fields, and those another version of the code
// stored, to enc as one msgpack map.
func (h *Handle) Encode(enc *msgpack.Encoder, sc *Schema, d Data) error {
	if h.s != nil {
		return h.s.Encode(enc, sc, d)
	}
	u := h.detached()
	u.mu.Lock()
	defer u.mu.Unlock()
	return EncodeTo(enc, sc, d, nil, u.unknown)
}

// Decode reads one map from dec into d, whose fields the caller zeroed.
func (h *Handle) Decode(dec *msgpack.Decoder, sc *Schema, d Data) (err error) {
	if h.s != nil {
		return h.s.Decode(dec, sc, d)
	}
	u := h.detached()
	u.mu.Lock()
	defer u.mu.Unlock()
	u.unknown, err = DecodeFrom(dec, sc, d, u.unknown[:0])
	return err
}
