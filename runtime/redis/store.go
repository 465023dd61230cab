// Package redis is a sessiongen store on Redis (6.2 or later) or Valkey,
// for sessions that outlive a restart of the application and are shared
// by all its processes.
//
// Each session is one Redis string: an 8-byte version followed by the
// record, with an absolute expiry in milliseconds. Every operation is one
// round trip and atomic:
//
//   - load: GET;
//   - create: SET NX PXAT, which never overwrites another session;
//   - compare-and-swap: a Lua script (EVALSHA, falling back to EVAL when the
//     server has forgotten it after a restart or failover) that writes the
//     record, a new version and the expiry only if the version is still the
//     one the request loaded;
//   - touch: PEXPIREAT, which moves the expiry and leaves the record and
//     its version alone;
//   - delete: DEL.
//
// Each command touches one key, so the store works unchanged on a Redis
// Cluster (pass a *goredis.ClusterClient to NewFromClient).
//
// Sessions survive a Redis restart only with persistence turned on
// (appendonly yes, or RDB snapshots), and survive memory pressure only
// under maxmemory-policy noeviction or volatile-*: allkeys-lru evicts
// sessions like cache entries.
package redis

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/url"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/internal/neterr"
	"github.com/sessiongen/sessiongen/runtime/internal/storekit"
)

// Store is a runtime.Store on Redis.
type Store struct {
	c         goredis.UniversalClient
	own       bool          // made by New: Close closes the client
	timeout   time.Duration // per operation through the context; 0: the client's own timeouts
	prefix    string
	maxRecord int
}

// Kind returns "redis", the store's name in telemetry (runtime.StoreOp).
func (s *Store) Kind() string { return "redis" }

var _ runtime.Store = (*Store)(nil)

// Defaults of the options.
const (
	DefaultPrefix        = "sess:"
	DefaultTimeout       = 300 * time.Millisecond
	DefaultMaxRecordSize = 64 << 10
	// MaxRecordSize is the ceiling for WithMaxRecordSize.
	MaxRecordSize = 16 << 20
)

// versionLen is the length of the version that prefixes every value.
const versionLen = 8

// An Option configures a Store.
type Option func(*options)

type options struct {
	prefix     string
	timeout    time.Duration
	setTimeout bool
	maxRecord  int
}

// WithPrefix sets the prefix of every key. Default: "sess:". Several
// applications can share a Redis under different prefixes.
func WithPrefix(p string) Option { return func(o *options) { o.prefix = p } }

// WithTimeout bounds each operation. Default: 300 ms for New, which sets
// it as the client's dial, read and write timeouts; with NewFromClient the
// client's own timeouts apply unless this option is given.
func WithTimeout(d time.Duration) Option {
	return func(o *options) { o.timeout, o.setTimeout = d, true }
}

// WithMaxRecordSize sets the largest record the store accepts; larger ones
// fail with runtime.ErrTooLarge before anything is sent, leaving the stored
// record intact. Default: 64 KiB; at most MaxRecordSize.
func WithMaxRecordSize(n int) Option { return func(o *options) { o.maxRecord = n } }

func build(opts []Option) (options, error) {
	o := options{prefix: DefaultPrefix, timeout: DefaultTimeout, maxRecord: DefaultMaxRecordSize}
	for _, opt := range opts {
		opt(&o)
	}
	var errs []error
	if len(o.prefix) > 64 {
		errs = append(errs, fmt.Errorf("prefix %q: at most 64 bytes", o.prefix))
	}
	if err := storekit.CheckTimeout(o.timeout); err != nil {
		errs = append(errs, err)
	}
	if err := storekit.CheckMaxRecord(o.maxRecord, MaxRecordSize); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return o, fmt.Errorf("sessiongen/redis: %w", err)
	}
	return o, nil
}

// New returns a store on the Redis server at rawURL:
// redis://[user:password@]host:port[/db] or rediss://… for TLS, or
// unix:///path/to/socket[?db=N]. An unusable URL is an error that says
// what is wrong (the password is never printed). New does not connect:
// the first request that needs the store does, and an unreachable server
// is then the error handler's 503.
func New(rawURL string, opts ...Option) (*Store, error) {
	o, err := build(opts)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("sessiongen/redis: URL is not a URL (want redis://host:port[/db])")
	}
	shown := u.Redacted()
	switch u.Scheme {
	case "redis", "rediss", "unix":
	default:
		return nil, fmt.Errorf("sessiongen/redis: URL %q: scheme %q, want redis://, rediss:// (TLS) or unix://", shown, u.Scheme)
	}
	if u.Scheme != "unix" && u.Host == "" {
		return nil, fmt.Errorf("sessiongen/redis: URL %q names no host (want redis://host:port[/db])", shown)
	}
	ro, err := goredis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("sessiongen/redis: URL %q: %v", shown, err)
	}
	ro.DialTimeout, ro.ReadTimeout, ro.WriteTimeout = o.timeout, o.timeout, o.timeout
	ro.ContextTimeoutEnabled = true // a request that is cancelled stops waiting
	// go-redis would send a command again after a timeout, a write
	// included; the store decides itself what is safe to send again.
	ro.MaxRetries = -1
	s := newStore(goredis.NewClient(ro), o)
	s.own, s.timeout = true, 0 // the client enforces the timeout
	return s, nil
}

// NewFromClient returns a store on a client you configured yourself: a
// *goredis.Client, a *goredis.ClusterClient, a Sentinel-backed failover
// client, custom TLS. Only the prefix, timeout and record-size options
// apply. The client stays yours to close.
func NewFromClient(c goredis.UniversalClient, opts ...Option) (*Store, error) {
	if c == nil {
		return nil, errors.New("sessiongen/redis: NewFromClient needs a client, got nil")
	}
	o, err := build(opts)
	if err != nil {
		return nil, err
	}
	s := newStore(c, o)
	if !o.setTimeout {
		s.timeout = 0
	}
	return s, nil
}

func newStore(c goredis.UniversalClient, o options) *Store {
	return &Store{c: c, timeout: o.timeout, prefix: o.prefix, maxRecord: o.maxRecord}
}

// Client returns the underlying client.
func (s *Store) Client() goredis.UniversalClient { return s.c }

// Close closes the client New made; a client passed to NewFromClient is
// left open.
func (s *Store) Close() error {
	if s.own {
		return s.c.Close()
	}
	return nil
}

// Load implements runtime.Store with GET.
func (s *Store) Load(ctx context.Context, key string) ([]byte, uint64, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var v []byte
	err := s.do(ctx, func() (err error) {
		v, err = s.c.Get(ctx, s.prefix+key).Bytes()
		return err
	})
	if err != nil {
		return nil, 0, s.mapErr(ctx, "load", err, false)
	}
	if len(v) <= versionLen {
		// Not written by this store: hand it on as a record that will not
		// decode, so the runtime treats it as corrupt (a fresh session).
		return v, 1, nil
	}
	return v[versionLen:], max(binary.BigEndian.Uint64(v), 1), nil
}

// casScript writes ARGV[2] (a new version and the record) to expire at
// ARGV[3] (unix milliseconds) if the value's version is still ARGV[1]. It
// returns 1 when written, 0 when the key is gone, -1 on another version.
var casScript = goredis.NewScript(`
local v = redis.call('GETRANGE', KEYS[1], 0, 7)
if v == '' then return 0 end
if v ~= ARGV[1] then return -1 end
redis.call('SET', KEYS[1], ARGV[2], 'PXAT', ARGV[3])
return 1
`)

// Save implements runtime.Store: SET NX PXAT for version 0, the
// compare-and-swap script otherwise. A write that got no answer in time is
// runtime.ErrOutcomeUnknown: Redis may have applied it.
func (s *Store) Save(ctx context.Context, key string, rec []byte, version uint64, expiry time.Time) (uint64, error) {
	if err := storekit.Fits("sessiongen/redis", rec, s.maxRecord); err != nil {
		return 0, err
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	val := make([]byte, versionLen+len(rec))
	next := storekit.NewVersion(version)
	binary.BigEndian.PutUint64(val, uint64(next))
	copy(val[versionLen:], rec)
	ms := expiry.UnixMilli()
	k := s.prefix + key
	if version == 0 {
		err := s.do(ctx, func() error { return s.c.Do(ctx, "set", k, val, "nx", "pxat", ms).Err() })
		if errors.Is(err, goredis.Nil) { // NX: the key exists
			return 0, fmt.Errorf("sessiongen/redis: create: %w", runtime.ErrConflict)
		}
		if err != nil {
			return 0, s.mapErr(ctx, "create", err, true)
		}
		return uint64(next), nil
	}
	var was [versionLen]byte
	binary.BigEndian.PutUint64(was[:], version)
	var n int64
	err := s.do(ctx, func() (err error) {
		n, err = casScript.Run(ctx, s.c, []string{k}, was[:], val, ms).Int64()
		return err
	})
	switch {
	case err != nil:
		return 0, s.mapErr(ctx, "compare-and-swap", err, true)
	case n == 0:
		return 0, fmt.Errorf("sessiongen/redis: compare-and-swap: %w", runtime.ErrNotFound)
	case n < 0:
		return 0, fmt.Errorf("sessiongen/redis: compare-and-swap: %w", runtime.ErrConflict)
	}
	return uint64(next), nil
}

// Touch implements runtime.Store with PEXPIREAT: the record and its
// version stay as they are.
func (s *Store) Touch(ctx context.Context, key string, expiry time.Time) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var ok bool
	err := s.do(ctx, func() (err error) {
		ok, err = s.c.PExpireAt(ctx, s.prefix+key, expiry).Result()
		return err
	})
	switch {
	case err != nil:
		return s.mapErr(ctx, "touch", err, false)
	case !ok:
		return fmt.Errorf("sessiongen/redis: touch: %w", runtime.ErrNotFound)
	}
	return nil
}

// Delete implements runtime.Store with DEL; a missing key is no error.
func (s *Store) Delete(ctx context.Context, key string) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.mapErr(ctx, "delete", s.do(ctx, func() error { return s.c.Del(ctx, s.prefix+key).Err() }), false)
}

// bound applies the per-operation timeout, when the store enforces it.
func (s *Store) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.timeout == 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, s.timeout)
}

// do runs an operation, and once more when the pooled connection it drew
// turned out to be closed by a server that has since restarted: nothing
// reached the running server, so even a write is safe to send again.
func (s *Store) do(ctx context.Context, op func() error) error {
	return neterr.Retry(ctx, op, nil)
}

// mapErr turns the client's errors into the runtime's. An answer from
// Redis (an error reply: OOM, READONLY, CLUSTERDOWN…) means the command
// was not applied; a write that failed in any other way after it could
// have been sent has an unknown outcome.
func (s *Store) mapErr(ctx context.Context, op string, err error, write bool) error {
	var reply goredis.Error
	switch {
	case err == nil:
		return nil
	case errors.Is(err, goredis.Nil):
		return fmt.Errorf("sessiongen/redis: %s: %w", op, runtime.ErrNotFound)
	}
	answered := errors.As(err, &reply) && !errors.Is(err, goredis.ErrClosed)
	return fmt.Errorf("sessiongen/redis: %s: %w", op, storekit.Failure(err, write, answered || neterr.Dial(err)))
}
