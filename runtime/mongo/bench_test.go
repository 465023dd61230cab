package mongo_test

import (
	"crypto/rand"
	"testing"
	"time"

	"github.com/sessiongen/sessiongen/internal/servers"
	"github.com/sessiongen/sessiongen/internal/storebench"
	"github.com/sessiongen/sessiongen/runtime/mongo"
	"go.mongodb.org/mongo-driver/v2/bson"
	gomongo "go.mongodb.org/mongo-driver/v2/mongo"
)

// BenchmarkMongo times the A-D scenarios (A read, B write, C anonymous,
// D login) through the middleware on
// FerretDB, next to raw driver calls doing the same operations on a
// document of the workload's size: A against FindOne, B against FindOne
// and the version-filtered UpdateOne, D against InsertOne.
func BenchmarkMongo(b *testing.B) {
	srv := servers.StartFerretDB(b)
	store, err := mongo.New(ctx, srv.URI("bench"), mongo.WithPruneInterval(0))
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	storebench.Run(b, store)
	b.Run("owned", func(b *testing.B) { storebench.RunOwned(b, store) }) // the same, with an owner field

	raw := srv.Client().Database("bench").Collection("raw")
	if _, err := raw.Indexes().CreateOne(ctx, gomongo.IndexModel{Keys: bson.D{{Key: "exp", Value: 1}}}); err != nil { // as the store's collection has
		b.Fatal(err)
	}
	hour := func() time.Time { return time.Now().Add(time.Hour) }
	if _, err := raw.InsertOne(ctx, bson.D{{Key: "_id", Value: "raw"}, {Key: "data", Value: storebench.Record}, {Key: "v", Value: int64(1)}, {Key: "exp", Value: hour()}}); err != nil {
		b.Fatal(err)
	}
	var d struct {
		Data []byte `bson:"data"`
		V    int64  `bson:"v"`
	}
	find := func() {
		if err := raw.FindOne(ctx, bson.D{{Key: "_id", Value: "raw"}, {Key: "exp", Value: bson.D{{Key: "$gt", Value: time.Now()}}}}).Decode(&d); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("raw-find", func(b *testing.B) {
		for range b.N {
			find()
		}
	})
	b.Run("raw-find+update", func(b *testing.B) {
		for range b.N {
			find()
			r, err := raw.UpdateOne(ctx, bson.D{{Key: "_id", Value: "raw"}, {Key: "v", Value: d.V}, {Key: "exp", Value: bson.D{{Key: "$gt", Value: time.Now()}}}},
				bson.D{{Key: "$set", Value: bson.D{{Key: "data", Value: storebench.Record}, {Key: "v", Value: d.V + 1}, {Key: "exp", Value: hour()}}}}) // a new version: the document changes
			if err != nil || r.MatchedCount != 1 {
				b.Fatal(err)
			}
		}
	})
	b.Run("raw-insert", func(b *testing.B) {
		for range b.N {
			if _, err := raw.InsertOne(ctx, bson.D{{Key: "_id", Value: rand.Text()}, {Key: "data", Value: storebench.Record}, {Key: "v", Value: int64(1)}, {Key: "exp", Value: hour()}}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
