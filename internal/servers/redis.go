package servers

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

func init() {
	// go-redis logs every failed dial; the outage tests cause them on purpose.
	goredis.SetLogger(quiet{})
}

type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

// redisHint is how to get the binaries on Debian and Ubuntu.
const redisHint = "apt-get install redis-server redis-tools"

// RedisServer is a redis-server process a test started.
type RedisServer struct {
	*Process
	tb testing.TB
}

// RedisPersistent makes Start turn on the append-only file (fsync on every
// write) in a temporary directory, so that the data survives Restart.
const RedisPersistent = "--appendonly yes"

// StartRedis starts redis-server. Without the binary the test is skipped, or
// fails when SESSIONGEN_REQUIRE_REDIS=1. Pass RedisPersistent to keep data
// across Restart; other arguments go to redis-server as they are.
func StartRedis(tb testing.TB, args ...string) *RedisServer {
	tb.Helper()
	bin := Binary(tb, "redis-server", "SESSIONGEN_REQUIRE_REDIS", redisHint)
	dir := tb.TempDir()
	extra := []string{"--appendonly", "no"}
	for _, a := range args {
		if a == RedisPersistent {
			extra = []string{"--appendonly", "yes", "--appendfsync", "always"}
		} else {
			extra = append(extra, a)
		}
	}
	p := StartProcess(tb, ProcessConfig{
		Name: "redis-server",
		Dir:  dir,
		Args: func(port int) []string {
			return append([]string{bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
				"--dir", dir, "--save", "", "--daemonize", "no", "--protected-mode", "no", "--loglevel", "warning"}, extra...)
		},
		Ready: func(addr string) bool { return pingRedis(addr) },
	})
	return &RedisServer{Process: p, tb: tb}
}

// URL is the server's redis:// URL.
func (s *RedisServer) URL() string { return "redis://" + s.Addr + "/0" }

// Client returns a plain client for raw commands, closed when the test ends.
func (s *RedisServer) Client() *goredis.Client {
	c := goredis.NewClient(&goredis.Options{Addr: s.Addr})
	s.tb.Cleanup(func() { c.Close() })
	return c
}

// Calls returns how many times the server ran each command since it
// started (or since ResetStats), from INFO commandstats: "get", "set",
// "evalsha", "pexpireat"…
func (s *RedisServer) Calls() map[string]int64 {
	s.tb.Helper()
	return calls(s.tb, s.Client())
}

// ResetStats zeroes the command counts.
func (s *RedisServer) ResetStats() {
	s.tb.Helper()
	if err := s.Client().ConfigResetStat(context.Background()).Err(); err != nil {
		s.tb.Fatal(err)
	}
}

func calls(tb testing.TB, c goredis.Cmdable) map[string]int64 {
	info, err := c.Info(context.Background(), "commandstats").Result()
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string]int64{}
	for _, line := range strings.Split(info, "\n") {
		// cmdstat_get:calls=3,usec=12,…
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		name, isCmd := strings.CutPrefix(name, "cmdstat_")
		if !ok || !isCmd {
			continue
		}
		for _, kv := range strings.Split(rest, ",") {
			if v, ok := strings.CutPrefix(kv, "calls="); ok {
				out[name], _ = strconv.ParseInt(v, 10, 64)
			}
		}
	}
	return out
}

func pingRedis(addr string) bool {
	c := goredis.NewClient(&goredis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer c.Close()
	return c.Ping(context.Background()).Err() == nil
}

// RedisCluster is a Redis Cluster of three masters a test started.
type RedisCluster struct {
	Nodes []*RedisServer
	tb    testing.TB
}

// StartRedisCluster starts three redis-server processes in cluster mode and
// joins them with redis-cli --cluster create (no replicas).
func StartRedisCluster(tb testing.TB) *RedisCluster {
	tb.Helper()
	cli := Binary(tb, "redis-cli", "SESSIONGEN_REQUIRE_REDIS", redisHint)
	cl := &RedisCluster{tb: tb}
	for range 3 {
		bus, err := FreePort()
		if err != nil {
			tb.Fatal(err)
		}
		cl.Nodes = append(cl.Nodes, StartRedis(tb, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-port", strconv.Itoa(bus), "--cluster-node-timeout", "5000"))
	}
	args := []string{"--cluster", "create"}
	for _, n := range cl.Nodes {
		args = append(args, n.Addr)
	}
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		tb.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		ok := 0
		for _, n := range cl.Nodes {
			info, err := n.Client().ClusterInfo(context.Background()).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") {
				ok++
			}
		}
		if ok == len(cl.Nodes) {
			return cl
		}
		if time.Now().After(deadline) {
			tb.Fatalf("the cluster did not reach cluster_state:ok")
		}
	}
}

// Client returns a cluster client, closed when the test ends.
func (cl *RedisCluster) Client() *goredis.ClusterClient {
	var addrs []string
	for _, n := range cl.Nodes {
		addrs = append(addrs, n.Addr)
	}
	c := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: addrs})
	cl.tb.Cleanup(func() { c.Close() })
	return c
}

// Calls sums the command counts of every node.
func (cl *RedisCluster) Calls() map[string]int64 {
	out := map[string]int64{}
	for _, n := range cl.Nodes {
		for k, v := range n.Calls() {
			out[k] += v
		}
	}
	return out
}

// Keys returns how many keys each node holds.
func (cl *RedisCluster) Keys() []int64 {
	var out []int64
	for _, n := range cl.Nodes {
		k, err := n.Client().DBSize(context.Background()).Result()
		if err != nil {
			cl.tb.Fatal(err)
		}
		out = append(out, k)
	}
	return out
}

// String describes the cluster.
func (cl *RedisCluster) String() string {
	var addrs []string
	for _, n := range cl.Nodes {
		addrs = append(addrs, n.Addr)
	}
	return fmt.Sprintf("cluster %s", strings.Join(addrs, ","))
}
