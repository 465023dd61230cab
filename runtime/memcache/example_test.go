package memcache_test

import (
	"log"
	"time"

	"github.com/sessiongen/sessiongen/internal/testsession"
	"github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/memcache"
)

// Keep sessions in memcached, shared by every process of the application.
func ExampleNew() {
	store, err := memcache.New("10.0.0.5:11211", "10.0.0.6:11211")
	if err != nil {
		log.Fatal(err)
	}
	sessions, err := testsession.NewVisitManager(runtime.Config{Store: store, Secrets: [][]byte{secret}})
	if err != nil {
		log.Fatal(err)
	}
	_ = sessions.Middleware // serve your mux with it
}

// Options set the key prefix, the per-operation timeout, the pool and the
// largest record.
func ExampleNewWithOptions() {
	store, err := memcache.NewWithOptions([]string{"10.0.0.5:11211"},
		memcache.WithPrefix("shop:"),
		memcache.WithTimeout(200*time.Millisecond),
		memcache.WithMaxIdleConns(256),
		memcache.WithMaxRecordSize(16<<10),
	)
	if err != nil {
		log.Fatal(err)
	}
	_ = store
}

// Keep each session on two of three servers: any one of them can die,
// restart or pause without logging anyone out.
func ExampleWithReplicas() {
	store, err := memcache.NewWithOptions([]string{"10.0.0.5:11211", "10.0.0.6:11211", "10.0.0.7:11211"},
		memcache.WithReplicas(2),
	)
	if err != nil {
		log.Fatal(err)
	}
	_ = store
}

var secret = []byte("0123456789abcdef0123456789abcdef")
