// Package memcache is a sessiongen store on memcached, for applications
// that run more than one process. It speaks memcached's own primitives:
// gets/cas for compare-and-swap, add for new records (never overwriting
// another session), touch to move an idle deadline without rewriting the
// record, delete.
//
// memcached has no authentication and speaks plaintext: keep it on a
// private network. Its data is volatile: a restart ends every session, and
// under memory pressure it evicts records, which looks like expiry.
//
// WithReplicas(n) keeps each session on n servers, so that one server can
// die, restart empty, or pause and return with old copies without logging
// anyone out or showing anyone older data: reads ask every replica and
// take the newest copy, a save is a compare-and-swap on the first replica
// that answers and is copied to the others in the background, and a
// logout leaves a tombstone on each (about 60 bytes, kept at least a day).
package memcache

import (
	"context"
	"errors"
	"fmt"
	"time"

	gomemcache "github.com/bradfitz/gomemcache/memcache"
	"github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/internal/neterr"
	"github.com/sessiongen/sessiongen/runtime/internal/storekit"
)

// Store is a runtime.Store on memcached.
type Store struct {
	c         *gomemcache.Client
	sel       *Selector // nil from NewFromClient
	timeout   time.Duration
	prefix    string
	maxRecord int
	rep       *replicas // nil with one replica
	now       func() time.Time
}

// Kind returns "memcached", the store's name in telemetry (runtime.StoreOp).
func (s *Store) Kind() string { return "memcached" }

var _ runtime.Store = (*Store)(nil)

// Defaults of the options.
const (
	DefaultPrefix        = "sess:"
	DefaultTimeout       = 300 * time.Millisecond
	DefaultMaxIdleConns  = 128
	DefaultMaxRecordSize = 64 << 10
	// MaxRecordSize is the ceiling for WithMaxRecordSize: memcached's
	// default item size limit (1 MiB) less room for the key and header.
	MaxRecordSize = 1<<20 - 1<<10
)

// An Option configures a Store.
type Option func(*options)

type options struct {
	prefix       string
	timeout      time.Duration
	maxIdleConns int
	maxRecord    int
	replicas     int
}

// WithPrefix sets the prefix of every key. Default: "sess:". Several
// applications can share a memcached under different prefixes.
func WithPrefix(p string) Option { return func(o *options) { o.prefix = p } }

// WithTimeout bounds each dial and each socket operation. gomemcache has
// no context support, so a request waits at most a few times this long
// for the store. Default: 300 ms. Ignored by NewFromClient.
func WithTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// WithMaxIdleConns sets how many idle connections are kept per server; it
// should cover the peak number of concurrent requests, or connections are
// closed and dialled again under load (gomemcache's default is 2).
// Default: 128. Ignored by NewFromClient.
func WithMaxIdleConns(n int) Option { return func(o *options) { o.maxIdleConns = n } }

// WithMaxRecordSize sets the largest record the store accepts; larger
// ones fail with runtime.ErrTooLarge before anything is sent, leaving the
// stored record intact. Default: 64 KiB; at most MaxRecordSize.
func WithMaxRecordSize(n int) Option { return func(o *options) { o.maxRecord = n } }

// WithReplicas keeps each session on n of the servers (default 1, at
// most 5 and at most the number of servers), chosen by the same
// rendezvous hashing, and read and written in parallel. With n = 2, any
// one server can die, restart empty, or pause and come back with old
// data, and no one is logged out or sees older data than they saved,
// except for a save acknowledged in the round trip before its primary
// died, before its copy reached the other replica (see README).
// The cost: each write and read goes to n servers (in parallel, so the
// latency is about that of one), n times the memory, and a tombstone of
// about 60 bytes per ended session, kept at least a day (see Store).
func WithReplicas(n int) Option { return func(o *options) { o.replicas = n } }

func build(opts []Option) (options, error) {
	o := options{prefix: DefaultPrefix, timeout: DefaultTimeout, maxIdleConns: DefaultMaxIdleConns, maxRecord: DefaultMaxRecordSize, replicas: 1}
	for _, opt := range opts {
		opt(&o)
	}
	var errs []error
	if len(o.prefix) > 64 || !legalKey(o.prefix) {
		errs = append(errs, fmt.Errorf("prefix %q: at most 64 bytes, no spaces or control characters", o.prefix))
	}
	if err := storekit.CheckTimeout(o.timeout); err != nil {
		errs = append(errs, err)
	}
	if o.maxIdleConns < 1 {
		errs = append(errs, fmt.Errorf("max idle conns %d: must be at least 1", o.maxIdleConns))
	}
	if err := storekit.CheckMaxRecord(o.maxRecord, MaxRecordSize); err != nil {
		errs = append(errs, err)
	}
	if o.replicas < 1 || o.replicas > maxReplicas {
		errs = append(errs, fmt.Errorf("replicas %d: must be between 1 and %d", o.replicas, maxReplicas))
	}
	if err := errors.Join(errs...); err != nil {
		return o, fmt.Errorf("sessiongen/memcache: %w", err)
	}
	return o, nil
}

// New returns a store on the given memcached servers ("host:port"), with
// keys spread by a consistent Selector.
func New(servers ...string) (*Store, error) { return NewWithOptions(servers) }

// NewWithOptions is New with options.
func NewWithOptions(servers []string, opts ...Option) (*Store, error) {
	o, err := build(opts)
	if err != nil {
		return nil, err
	}
	sel, err := NewSelector(servers...)
	if err != nil {
		return nil, err
	}
	if o.replicas > len(servers) {
		return nil, fmt.Errorf("sessiongen/memcache: %d replicas need at least as many servers; %d given", o.replicas, len(servers))
	}
	c := gomemcache.NewFromSelector(sel)
	c.Timeout, c.MaxIdleConns = o.timeout, o.maxIdleConns
	s := &Store{c: c, sel: sel, timeout: o.timeout, prefix: o.prefix, maxRecord: o.maxRecord, now: time.Now}
	if o.replicas > 1 {
		s.rep = newReplicas(sel, o.replicas, o)
	}
	return s, nil
}

// NewFromClient returns a store on a client you configured yourself. Only
// the prefix and record-size options apply; replicas need New. It panics
// on invalid options, which are a programming error.
func NewFromClient(c *gomemcache.Client, opts ...Option) *Store {
	o, err := build(opts)
	if err == nil && o.replicas > 1 {
		err = errors.New("sessiongen/memcache: WithReplicas needs the server list: use NewWithOptions")
	}
	if err != nil {
		panic(err)
	}
	return &Store{c: c, timeout: DefaultTimeout, prefix: o.prefix, maxRecord: o.maxRecord, now: time.Now}
}

// Client returns the underlying gomemcache client. With replicas, it
// reaches only the first replica of each key and knows nothing of the
// replicas' envelope: use it for statistics, not for sessions.
func (s *Store) Client() *gomemcache.Client { return s.c }

// Load implements runtime.Store with gets, so the version is memcached's
// CAS value (never GetAndTouch: its gat command returns CAS 0).
func (s *Store) Load(ctx context.Context, key string) ([]byte, uint64, error) {
	if s.rep != nil {
		return s.rep.load(ctx, key)
	}
	var it *gomemcache.Item
	err := s.do(ctx, func() (err error) {
		it, err = s.c.Get(s.prefix + key)
		return err
	})
	if err != nil {
		return nil, 0, mapErr("load", err, false)
	}
	if it.Flags == flagEnvelope { // written with replicas
		c, ok := open(it.Flags, it.Value, it.CasID)
		if !ok || c.tombstone {
			return nil, 0, fmt.Errorf("sessiongen/memcache: load: %w", runtime.ErrNotFound)
		}
		return c.rec, it.CasID, nil
	}
	return it.Value, it.CasID, nil
}

// Save implements runtime.Store: add for version 0, cas otherwise. Every
// write sends the expiration again (an item fetched by Get carries 0,
// which would make the record immortal). A write that got no answer in
// time is runtime.ErrOutcomeUnknown: memcached may still apply it.
func (s *Store) Save(ctx context.Context, key string, rec []byte, version uint64, expiry time.Time) (uint64, error) {
	if err := storekit.Fits("sessiongen/memcache", rec, s.maxRecord); err != nil {
		return 0, err
	}
	if s.rep != nil {
		return 0, s.rep.save(ctx, key, rec, version, expiry)
	}
	it := &gomemcache.Item{Key: s.prefix + key, Value: rec, Expiration: s.expiration(expiry), CasID: version}
	if version == 0 {
		err := s.do(ctx, func() error { return s.c.Add(it) })
		if errors.Is(err, gomemcache.ErrNotStored) { // the key exists
			return 0, fmt.Errorf("sessiongen/memcache: add: %w", runtime.ErrConflict)
		}
		return 0, mapErr("add", err, true)
	}
	err := s.do(ctx, func() error { return s.c.CompareAndSwap(it) })
	if errors.Is(err, gomemcache.ErrNotStored) {
		// gomemcache reports a cas on a missing item as ErrCacheMiss, but
		// documents ErrNotStored for it: either way the record is gone.
		err = gomemcache.ErrCacheMiss
	}
	return 0, mapErr("cas", err, true)
}

// Touch implements runtime.Store. It does not change the CAS value.
func (s *Store) Touch(ctx context.Context, key string, expiry time.Time) error {
	if s.rep != nil {
		return s.rep.touch(ctx, key, expiry)
	}
	return mapErr("touch", s.do(ctx, func() error { return s.c.Touch(s.prefix+key, s.expiration(expiry)) }), false)
}

// Delete implements runtime.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	if s.rep != nil {
		return s.rep.delete(ctx, key)
	}
	err := s.do(ctx, func() error { return s.c.Delete(s.prefix + key) })
	if errors.Is(err, gomemcache.ErrCacheMiss) {
		return nil
	}
	return mapErr("delete", err, false)
}

// do runs an operation, and once more on a freshly dialled connection
// when the pooled one it drew was stale: after a memcached restart every
// idle connection to it is dead, so the pool is emptied first (gomemcache
// can only empty it whole; the live servers' connections are dialled
// again as needed). Nothing sent on a stale connection reached the
// running server, so even a write is safe to send again; a timeout is
// not retried, since the server may still be working on it.
func (s *Store) do(ctx context.Context, op func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return neterr.Retry(ctx, op, func() { s.c.Close() })
}

// expiration converts an absolute expiry into memcached's: relative
// seconds up to 30 days, an absolute unix time beyond (memcached reads
// larger relative values as timestamps in 1970). Never 0 (no expiry) and
// never negative (expire now). TTLs are rounded up.
func (s *Store) expiration(expiry time.Time) int32 {
	return expiration(expiry, s.now())
}

const thirtyDays = 30 * 24 * 60 * 60

func expiration(expiry, now time.Time) int32 {
	ttl := int64((expiry.Sub(now) + time.Second - 1) / time.Second)
	switch {
	case ttl < 1:
		return 1
	case ttl <= thirtyDays:
		return int32(ttl)
	}
	return int32(min(expiry.Unix(), 1<<31-1))
}

// mapErr turns gomemcache's errors into the runtime's. A write that
// failed after it could have been sent has an unknown outcome.
func mapErr(op string, err error, write bool) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.Is(err, gomemcache.ErrCacheMiss):
		return fmt.Errorf("sessiongen/memcache: %s: %w", op, runtime.ErrNotFound)
	case errors.Is(err, gomemcache.ErrCASConflict):
		return fmt.Errorf("sessiongen/memcache: %s: %w", op, runtime.ErrConflict)
	case isTooLarge(err):
		return fmt.Errorf("sessiongen/memcache: %s: %w: %v", op, runtime.ErrTooLarge, err)
	case errors.Is(err, gomemcache.ErrMalformedKey):
		return fmt.Errorf("sessiongen/memcache: %s: %w", op, err)
	}
	return fmt.Errorf("sessiongen/memcache: %s: %w", op, storekit.Failure(err, write, notSent(err)))
}
