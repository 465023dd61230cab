package redis_test

import (
	"encoding/binary"
	"strconv"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/sessiongen/sessiongen/internal/servers"
	"github.com/sessiongen/sessiongen/internal/storebench"
	"github.com/sessiongen/sessiongen/runtime/redis"
)

// BenchmarkRedis times the A-D scenarios (A read, B write, C anonymous,
// D login) through the middleware on a
// real Redis, next to raw go-redis calls making the same round trips on a
// value of the workload's size: A against one GET, B against GET and the
// compare-and-swap script, D against one SET NX PXAT.
func BenchmarkRedis(b *testing.B) {
	srv := servers.StartRedis(b)
	store, err := redis.New(srv.URL())
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	storebench.Run(b, store)
	b.Run("owned", func(b *testing.B) { storebench.RunOwned(b, store) })   // the same, with an owner field
	b.Run("hooked", func(b *testing.B) { storebench.RunHooked(b, store) }) // the same, with a Config.OnEvent that counts
	b.Run("sealed", func(b *testing.B) { storebench.RunSealed(b, store) }) // the same, with Config.EncryptAtRest

	raw := goredis.NewClient(&goredis.Options{Addr: srv.Addr, MaxRetries: -1})
	defer raw.Close()
	ctx := b.Context()
	val := func(version uint64) []byte {
		return append(binary.BigEndian.AppendUint64(nil, version), storebench.Record...)
	}
	raw.Set(ctx, "raw", val(1), time.Hour)
	b.Run("raw-get", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if err := raw.Get(ctx, "raw").Err(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("raw-get+cas", func(b *testing.B) {
		b.ReportAllocs()
		for i := range b.N {
			v, err := raw.Get(ctx, "raw").Bytes()
			if err != nil {
				b.Fatal(err)
			}
			next := val(uint64(i) + 2) // a new version: the value changes
			if n, err := redis.CASScript.Run(ctx, raw, []string{"raw"}, v[:8], next, time.Now().Add(time.Hour).UnixMilli()).Int(); err != nil || n != 1 {
				b.Fatal(n, err)
			}
		}
	})
	b.Run("raw-set-nx", func(b *testing.B) {
		b.ReportAllocs()
		prefix := strconv.FormatInt(time.Now().UnixNano(), 36)
		for i := range b.N {
			if err := raw.Do(ctx, "set", prefix+strconv.Itoa(i), val(1), "nx", "pxat", time.Now().Add(time.Hour).UnixMilli()).Err(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
