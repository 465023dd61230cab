package redis_test

import (
	"context"
	"encoding/binary"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/sessiongen/sessiongen/internal/servers"
	"github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/redis"
	"github.com/sessiongen/sessiongen/runtime/storetest"
)

var ctx = context.Background()

func newStore(t testing.TB, srv *servers.RedisServer, opts ...redis.Option) *redis.Store {
	t.Helper()
	s, err := redis.New(srv.URL(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestContract(t *testing.T) {
	srv := servers.StartRedis(t)
	storetest.Run(t, func(t *testing.T) runtime.Store { return newStore(t, srv) })
}

// TestContractOnCluster runs the contract on a three-master Redis Cluster
// through a cluster client: every command of a session touches one key,
// so one hash slot.
func TestContractOnCluster(t *testing.T) {
	cl := servers.StartRedisCluster(t)
	storetest.Run(t, func(t *testing.T) runtime.Store {
		s, err := redis.NewFromClient(cl.Client())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
	s, _ := redis.NewFromClient(cl.Client())
	a := storetest.NewApp(t, s)
	for range 60 {
		a.Login("ada")
	}
	keys := cl.Keys()
	t.Logf("%s: keys per node after the contract and 60 logins: %v", cl, keys)
	for _, n := range keys {
		if n == 0 {
			t.Errorf("a node holds no session: keys per node %v", keys)
		}
	}
}

func TestConcurrentRequests(t *testing.T) {
	srv := servers.StartRedis(t)
	storetest.RunLostUpdates(t, func(t *testing.T) runtime.Store { return newStore(t, srv) })
}

func TestConcurrentRequestsOnCluster(t *testing.T) {
	cl := servers.StartRedisCluster(t)
	r := storetest.Increments(t, mustFromClient(t, cl), 2, 16, 200)
	t.Logf("cluster, two managers: %d of 3200 increments persisted, %d conflicts merged, %d requests failed", r.Persisted, r.Conflicts, r.Failed)
	if r.Persisted != 3200 || r.Failed > storetest.MaxFailed(3200) {
		t.Fatalf("%d of 3200 increments persisted, %d requests failed", r.Persisted, r.Failed)
	}
}

func mustFromClient(t *testing.T, cl *servers.RedisCluster) *redis.Store {
	s, err := redis.NewFromClient(cl.Client())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestCommandsPerRequest counts what Redis runs for the scenarios of
// The A-D scenarios: A (read) one GET, B (write) a GET and the compare-and-swap
// script (whose GETRANGE and SET run inside it, in the same round trip),
// C (anonymous) nothing, D (login) one SET.
func TestCommandsPerRequest(t *testing.T) {
	srv := servers.StartRedis(t)
	a := storetest.NewApp(t, newStore(t, srv))
	cookie, _ := a.Login("ada")
	a.Do("/write?v=warm", cookie) // the script is loaded once per server
	clientCommands := []string{"get", "set", "evalsha", "eval", "pexpireat", "del", "getrange"}
	for _, tc := range []struct {
		name, path, cookie string
		want               map[string]int64 // round trips
		inScript           map[string]int64 // run inside the script
	}{
		{"A read", "/read", cookie, map[string]int64{"get": 1}, nil},
		{"B write", "/write?v=x", cookie, map[string]int64{"get": 1, "evalsha": 1}, map[string]int64{"getrange": 1, "set": 1}},
		{"C anonymous", "/anon", "", nil, nil},
		{"D login", "/login?v=bob", "", map[string]int64{"set": 1}, nil},
	} {
		srv.ResetStats()
		if rec := a.Do(tc.path, tc.cookie); rec.Code != 200 {
			t.Fatalf("%s: %d", tc.name, rec.Code)
		}
		got := srv.Calls()
		var trips int64
		for _, c := range clientCommands {
			if n := got[c] - tc.inScript[c]; n != tc.want[c] {
				t.Errorf("%s: %d × %s, want %d (all: %v)", tc.name, n, c, tc.want[c], got)
			} else {
				trips += n
			}
		}
		t.Logf("%s: %d round trips (%v)", tc.name, trips, got)
	}
}

// TestScriptForgotten: after SCRIPT FLUSH (as after a restart or a
// failover) the compare-and-swap falls back to EVAL once and works.
func TestScriptForgotten(t *testing.T) {
	srv := servers.StartRedis(t)
	a := storetest.NewApp(t, newStore(t, srv))
	cookie, _ := a.Login("ada")
	if err := srv.Client().ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	srv.ResetStats()
	if rec := a.Do("/write?v=after-flush", cookie); rec.Code != 200 {
		t.Fatalf("write after SCRIPT FLUSH: %d", rec.Code)
	}
	if got := a.Do("/read", cookie).Body.String(); got != "ada|after-flush|new=false" {
		t.Fatalf("read %q", got)
	}
	if c := srv.Calls(); c["eval"] != 1 {
		t.Errorf("commands %v: want one EVAL after NOSCRIPT", c)
	}
}

func TestKilledServer(t *testing.T) {
	srv := servers.StartRedis(t, servers.RedisPersistent)
	storetest.Outage(t, newStore(t, srv), srv.Stop, srv.Restart)
}

func TestPausedServer(t *testing.T) {
	srv := servers.StartRedis(t)
	const timeout = 200 * time.Millisecond
	storetest.Paused(t, newStore(t, srv, redis.WithTimeout(timeout)), timeout, srv.Pause, srv.Resume)
}

func TestRestartsKeepEveryoneLoggedIn(t *testing.T) {
	srv := servers.StartRedis(t, servers.RedisPersistent)
	storetest.Restarts(t, func() runtime.Store { return newStore(t, srv) }, srv.Restart)
}

func TestGarbageAndHostileRecords(t *testing.T) {
	srv := servers.StartRedis(t)
	raw := srv.Client()
	storetest.Garbage(t, newStore(t, srv), func(key string, rec []byte) {
		val := binary.BigEndian.AppendUint64(nil, 42) // a version, as the store writes it
		if err := raw.Set(ctx, redis.DefaultPrefix+key, append(val, rec...), time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
	})
	// Values this store never writes: empty, and shorter than a version.
	a := storetest.NewApp(t, newStore(t, srv))
	for _, v := range []string{"", "short"} {
		cookie, key := a.Login("ada")
		raw.Set(ctx, redis.DefaultPrefix+key, v, time.Hour)
		if rec := a.Do("/read", cookie); rec.Code != 200 || !strings.HasSuffix(rec.Body.String(), "new=true") {
			t.Errorf("value %q: %d %q, want a fresh session", v, rec.Code, rec.Body)
		}
	}
}

// TestTouchMovesOnlyTheExpiry: a read-only request after the touch
// interval sends PEXPIREAT, and the record's version stays.
func TestTouchMovesOnlyTheExpiry(t *testing.T) {
	srv := servers.StartRedis(t)
	s := newStore(t, srv)
	s.Save(ctx, "k", []byte("rec"), 0, time.Now().Add(time.Minute))
	_, v1, _ := s.Load(ctx, "k")
	if err := s.Touch(ctx, "k", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	ttl := srv.Client().PTTL(ctx, redis.DefaultPrefix+"k").Val()
	if _, v2, _ := s.Load(ctx, "k"); v2 != v1 || ttl < 59*time.Minute {
		t.Fatalf("after Touch: version %d (was %d), TTL %v", v2, v1, ttl)
	}
}

func TestOversizedRecordIsRefused(t *testing.T) {
	srv := servers.StartRedis(t)
	s := newStore(t, srv, redis.WithMaxRecordSize(100))
	if _, err := s.Save(ctx, "k", make([]byte, 101), 0, time.Now().Add(time.Hour)); !strings.Contains(err.Error(), "over the 100-byte limit") {
		t.Fatalf("oversized save: %v", err)
	}
	if c := srv.Calls(); c["set"] != 0 {
		t.Fatalf("an oversized record reached Redis: %v", c)
	}
}

// TestLifecycle: per-owner logout and its limit, events and sealed-cookie revocation (storetest.RunLifecycle) on a real Redis, two managers sharing it.
func TestLifecycle(t *testing.T) {
	srv := servers.StartRedis(t)
	storetest.RunLifecycle(t, func(t *testing.T) runtime.Store { return newStore(t, srv) })
}

// TestEncryptAtRest: Config.EncryptAtRest on this store (storetest.RunEncryptAtRest).
func TestEncryptAtRest(t *testing.T) {
	srv := servers.StartRedis(t)
	storetest.RunEncryptAtRest(t, func(t *testing.T) runtime.Store { return newStore(t, srv) })
}

// TestEncryptAtRestDump: with EncryptAtRest, what redis-cli dumps of every
// key holds neither a field value nor the session ID.
func TestEncryptAtRestDump(t *testing.T) {
	srv := servers.StartRedis(t)
	value, id := storetest.SealedLogin(t, newStore(t, srv))
	_, port, _ := net.SplitHostPort(srv.Addr)
	cli := func(args ...string) string {
		out, err := exec.Command("redis-cli", append([]string{"-h", "127.0.0.1", "-p", port, "--raw"}, args...)...).Output()
		if err != nil {
			t.Fatalf("redis-cli %v: %v", args, err)
		}
		return string(out)
	}
	keys := strings.Fields(cli("--scan"))
	var dump strings.Builder
	for _, k := range keys {
		dump.WriteString(cli("DUMP", k))
		dump.WriteString(cli("HGETALL", k))
		dump.WriteString(cli("GET", k))
	}
	if len(keys) < 2 || strings.Contains(dump.String(), value) || strings.Contains(dump.String(), id) {
		t.Fatalf("redis-cli's dump of %d keys holds the field value %q or the session ID", len(keys), value)
	}
}
