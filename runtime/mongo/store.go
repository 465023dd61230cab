// Package mongo is a sessiongen store on MongoDB, for sessions that
// outlive restarts and are shared by every process of an application.
//
// One document per session: _id (the store key), data (the record, as
// binary), v (a version number) and exp (the expiry, a date). A load
// ignores expired documents; a create is an insert (a duplicate key means
// another live session holds the key, unless the one there has expired);
// a compare-and-swap is an update filtered on _id and version that writes
// data, version and expiry together (when it matches nothing, a count
// tells a conflict from a vanished document); a touch updates exp alone; a
// delete of a missing document is no error. Expiry is judged by the
// application's clock in every filter.
//
// Expired documents are removed by a TTL index on exp, created if missing.
// FerretDB has no TTL indexes: on it, the store deletes expired documents
// itself, 1,000 at a time on a randomised interval.
package mongo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/internal/storekit"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/connstring"
)

// Store is a runtime.Store on MongoDB.
type Store struct {
	c         *mongo.Client
	own       bool
	coll      *mongo.Collection
	timeout   time.Duration
	maxRecord int
	// Now is the application's clock, which judges expiry; tests replace it.
	Now    func() time.Time
	pruner *storekit.Pruner // on a server without TTL indexes
}

// Kind returns "mongodb", the store's name in telemetry (runtime.StoreOp).
func (s *Store) Kind() string { return "mongodb" }

var _ runtime.Store = (*Store)(nil)

// Defaults of the options.
const (
	DefaultDatabase      = "sessiongen"
	DefaultCollection    = "sessions"
	DefaultTimeout       = time.Second
	DefaultPruneInterval = 5 * time.Minute
	DefaultMaxRecordSize = 64 << 10
	// MaxRecordSize is the ceiling for WithMaxRecordSize: MongoDB's
	// document limit is 16 MiB.
	MaxRecordSize = 15 << 20
)

// An Option configures a Store.
type Option func(*config)

type config struct {
	database, collection string
	timeout              time.Duration
	prune                time.Duration
	maxRecord            int
	log                  *slog.Logger
}

// WithDatabase sets the database. Default: the one the URI names, else
// "sessiongen".
func WithDatabase(name string) Option { return func(o *config) { o.database = name } }

// WithCollection sets the collection. Default: "sessions".
func WithCollection(name string) Option { return func(o *config) { o.collection = name } }

// WithTimeout bounds each operation, server selection included (the
// driver's default of 30 s would hold every request that long in an
// outage). Default: 1 s.
func WithTimeout(d time.Duration) Option { return func(o *config) { o.timeout = d } }

// WithPruneInterval sets how often, on average, the store deletes expired
// documents itself, on a server without TTL indexes (FerretDB). Default:
// 5 minutes; 0 turns it off.
func WithPruneInterval(d time.Duration) Option { return func(o *config) { o.prune = d } }

// WithMaxRecordSize sets the largest record the store accepts; larger
// ones fail with runtime.ErrTooLarge before anything is sent. Default:
// 64 KiB.
func WithMaxRecordSize(n int) Option { return func(o *config) { o.maxRecord = n } }

// WithLogger sets where the pruner reports its errors. Default:
// slog.Default().
func WithLogger(l *slog.Logger) Option { return func(o *config) { o.log = l } }

func build(opts []Option) (config, error) {
	o := config{collection: DefaultCollection, timeout: DefaultTimeout, prune: DefaultPruneInterval, maxRecord: DefaultMaxRecordSize, log: slog.Default()}
	for _, opt := range opts {
		opt(&o)
	}
	var errs []error
	if o.database != "" && (len(o.database) > 63 || strings.ContainsAny(o.database, `/\. "$`)) {
		errs = append(errs, fmt.Errorf(`database %q: at most 63 bytes, none of /\. "$`, o.database))
	}
	if o.collection == "" || strings.ContainsAny(o.collection, "$\x00") || strings.HasPrefix(o.collection, "system.") {
		errs = append(errs, fmt.Errorf("collection %q: not empty, no $, not system.*", o.collection))
	}
	if err := storekit.CheckTimeout(o.timeout); err != nil {
		errs = append(errs, err)
	}
	if err := storekit.CheckPrune(o.prune); err != nil {
		errs = append(errs, err)
	}
	if err := storekit.CheckMaxRecord(o.maxRecord, MaxRecordSize); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return o, fmt.Errorf("sessiongen/mongo: %w", err)
	}
	return o, nil
}

// New connects to the server at uri (mongodb://user:pass@host:port/db or
// mongodb+srv://…), with the database the URI names unless WithDatabase
// says otherwise, creates the TTL index if missing (or starts the pruner
// on a server without TTL indexes), and returns the store. Close
// disconnects.
func New(ctx context.Context, uri string, opts ...Option) (*Store, error) {
	o, err := build(opts)
	if err != nil {
		return nil, err
	}
	cs, err := connstring.ParseAndValidate(uri)
	if err != nil {
		return nil, fmt.Errorf("sessiongen/mongo: URI: %w", err)
	}
	if o.database == "" {
		o.database = cs.Database
	}
	if o.database == "" {
		o.database = DefaultDatabase
	}
	if _, err := build(append(opts, WithDatabase(o.database))); err != nil {
		return nil, err
	}
	co := options.Client().ApplyURI(uri).
		SetServerSelectionTimeout(o.timeout).
		SetConnectTimeout(o.timeout).
		SetRetryWrites(false) // a timed-out write is never sent again blindly; the runtime reads back
	c, err := mongo.Connect(co)
	if err != nil {
		return nil, fmt.Errorf("sessiongen/mongo: %w", err)
	}
	s, err := newStore(ctx, c, o)
	if err != nil {
		c.Disconnect(context.Background())
		return nil, err
	}
	s.own = true
	return s, nil
}

// NewFromClient returns a store on a client you configured yourself, in
// the given database and collection. Only the timeout, prune and
// record-size options apply. Close leaves the client connected.
func NewFromClient(c *mongo.Client, db, collection string, opts ...Option) (*Store, error) {
	if c == nil {
		return nil, errors.New("sessiongen/mongo: NewFromClient needs a client, got nil")
	}
	o, err := build(append(opts, WithDatabase(db), WithCollection(collection)))
	if err != nil {
		return nil, err
	}
	if db == "" {
		return nil, errors.New("sessiongen/mongo: NewFromClient needs a database name")
	}
	return newStore(context.Background(), c, o)
}

func newStore(ctx context.Context, c *mongo.Client, o config) (*Store, error) {
	s := &Store{c: c, coll: c.Database(o.database).Collection(o.collection), timeout: o.timeout, maxRecord: o.maxRecord, Now: time.Now}
	ctx, cancel := context.WithTimeout(ctx, max(o.timeout, 10*time.Second))
	defer cancel()
	ttl, err := s.supportsTTL(ctx)
	if err != nil {
		return nil, fmt.Errorf("sessiongen/mongo: %w", err)
	}
	index := options.Index().SetName("sessiongen_exp")
	if ttl {
		index.SetExpireAfterSeconds(0) // the server deletes a document once exp has passed
	}
	_, err = s.coll.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: "exp", Value: 1}}, Options: index})
	if err != nil {
		return nil, fmt.Errorf("sessiongen/mongo: creating the expiry index on %s.%s: %w", o.database, o.collection, err)
	}
	if !ttl && o.prune > 0 {
		s.pruner = storekit.StartPruner(o.prune, o.timeout, s.Prune, func(err error) {
			o.log.Warn("sessiongen/mongo: pruning expired sessions failed", "collection", o.database+"."+o.collection, "err", err)
		})
	}
	return s, nil
}

// supportsTTL reports whether the server removes expired documents by a
// TTL index: MongoDB does, FerretDB (which says so in buildInfo) does not.
func (s *Store) supportsTTL(ctx context.Context) (bool, error) {
	var info bson.M
	if err := s.c.Database("admin").RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Decode(&info); err != nil {
		return false, err
	}
	_, ferret := info["ferretdbVersion"]
	return !ferret, nil
}

// Client returns the underlying client.
func (s *Store) Client() *mongo.Client { return s.c }

// Close stops the pruner, and disconnects the client New made (a client
// passed to NewFromClient stays connected).
func (s *Store) Close() error {
	s.pruner.Stop()
	if s.own {
		return s.c.Disconnect(context.Background())
	}
	return nil
}

// doc is a session's document.
type doc struct {
	Data []byte    `bson:"data"`
	V    int64     `bson:"v"`
	Exp  time.Time `bson:"exp"`
}

// Load implements runtime.Store.
func (s *Store) Load(ctx context.Context, key string) ([]byte, uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var d doc
	err := s.coll.FindOne(ctx, bson.D{{Key: "_id", Value: key}, {Key: "exp", Value: bson.D{{Key: "$gt", Value: s.Now()}}}}).Decode(&d)
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return nil, 0, fmt.Errorf("sessiongen/mongo: load: %w", runtime.ErrNotFound)
	case err != nil:
		return nil, 0, fmt.Errorf("sessiongen/mongo: load: %w", classify(err, false))
	}
	return d.Data, max(uint64(d.V), 1), nil
}

// Save implements runtime.Store.
func (s *Store) Save(ctx context.Context, key string, rec []byte, version uint64, expiry time.Time) (uint64, error) {
	if err := storekit.Fits("sessiongen/mongo", rec, s.maxRecord); err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	now := s.Now()
	next := storekit.NewVersion(version)
	set := bson.D{{Key: "$set", Value: bson.D{{Key: "data", Value: rec}, {Key: "v", Value: next}, {Key: "exp", Value: expiry}}}}
	live := bson.E{Key: "exp", Value: bson.D{{Key: "$gt", Value: now}}}
	if version == 0 {
		_, err := s.coll.InsertOne(ctx, bson.D{{Key: "_id", Value: key}, {Key: "data", Value: rec}, {Key: "v", Value: next}, {Key: "exp", Value: expiry}})
		if err == nil {
			return uint64(next), nil
		}
		if !mongo.IsDuplicateKeyError(err) {
			return 0, s.wrap("create", err, true)
		}
		// The key is taken: by a live session (a conflict), or by an
		// expired one that the TTL monitor has not removed yet.
		r, err := s.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: key}, {Key: "exp", Value: bson.D{{Key: "$lte", Value: now}}}}, set)
		if err == nil && r.MatchedCount == 0 {
			err = runtime.ErrConflict
		}
		if err != nil {
			return 0, s.wrap("create", err, true)
		}
		return uint64(next), nil
	}
	r, err := s.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: key}, {Key: "v", Value: int64(version)}, live}, set)
	if err != nil {
		return 0, s.wrap("compare-and-swap", err, true)
	}
	if r.MatchedCount == 1 {
		return uint64(next), nil
	}
	n, err := s.coll.CountDocuments(ctx, bson.D{{Key: "_id", Value: key}, live})
	switch {
	case err != nil:
		return 0, s.wrap("compare-and-swap", err, false)
	case n == 0:
		return 0, s.wrap("compare-and-swap", runtime.ErrNotFound, false)
	}
	return 0, s.wrap("compare-and-swap", runtime.ErrConflict, false)
}

// Touch implements runtime.Store: it updates exp alone.
func (s *Store) Touch(ctx context.Context, key string, expiry time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	r, err := s.coll.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: key}, {Key: "exp", Value: bson.D{{Key: "$gt", Value: s.Now()}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "exp", Value: expiry}}}})
	if err == nil && r.MatchedCount == 0 {
		err = runtime.ErrNotFound
	}
	return s.wrap("touch", err, false)
}

// Delete implements runtime.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	_, err := s.coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: key}})
	return s.wrap("delete", err, false)
}

// Prune deletes up to 1,000 sessions expired at now and returns how many.
// On a server without TTL indexes the store calls it on its interval.
func (s *Store) Prune(ctx context.Context, now time.Time) (int64, error) {
	cur, err := s.coll.Find(ctx, bson.D{{Key: "exp", Value: bson.D{{Key: "$lte", Value: now}}}},
		options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}).SetLimit(storekit.PruneBatch))
	if err != nil {
		return 0, fmt.Errorf("sessiongen/mongo: prune: %w", err)
	}
	var ids []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(ctx, &ids); err != nil || len(ids) == 0 {
		return 0, err
	}
	keys := make(bson.A, len(ids))
	for i, id := range ids {
		keys[i] = id.ID
	}
	// The expiry is checked again: a session touched meanwhile stays.
	r, err := s.coll.DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: keys}}}, {Key: "exp", Value: bson.D{{Key: "$lte", Value: now}}}})
	if err != nil {
		return 0, fmt.Errorf("sessiongen/mongo: prune: %w", err)
	}
	return r.DeletedCount, nil
}

func (s *Store) wrap(op string, err error, write bool) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, runtime.ErrConflict) || errors.Is(err, runtime.ErrNotFound) {
		return fmt.Errorf("sessiongen/mongo: %s: %w", op, err)
	}
	return fmt.Errorf("sessiongen/mongo: %s: %w", op, classify(err, write))
}

// classify: an error reply from the server and a failed server selection
// (nothing was sent) mean nothing was written; a write cut off by the
// timeout or a lost connection has an unknown outcome.
func classify(err error, write bool) error {
	var reply mongo.ServerError
	if errors.Is(err, context.Canceled) {
		return err // the request went away
	}
	return storekit.Failure(err, write, errors.As(err, &reply) || strings.Contains(err.Error(), "server selection"))
}
