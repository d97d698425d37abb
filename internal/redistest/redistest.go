// Package redistest gives each test a namespace of its own on the test Redis, so tests can run in
// parallel against one server; the keys under it are removed when the test ends.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultURL is the Redis tests use unless PARLEY_TEST_REDIS_URL names another.
const DefaultURL = "redis://127.0.0.1:6379/0"

const startHint = "start Redis with `redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no`, " +
	"or run .ci/run, which starts PostgreSQL and Redis when they are down (see README, \"Running the tests\"); " +
	"PARLEY_TEST_REDIS_URL names another Redis"

// URL is PARLEY_TEST_REDIS_URL when set, DefaultURL otherwise.
func URL() string {
	if u := os.Getenv("PARLEY_TEST_REDIS_URL"); u != "" {
		return u
	}
	return DefaultURL
}

// Namespace returns a key prefix of the test's own, and a client to look at the test Redis with.
// It fails the test, saying how to start Redis, when Redis does not answer. When the test ends
// the keys under the prefix are deleted and the client is closed.
func Namespace(tb testing.TB) (string, *redis.Client) {
	tb.Helper()
	opts, err := redis.ParseURL(URL())
	if err != nil {
		tb.Fatalf("redistest: %s: %v", URL(), err)
	}
	client := redis.NewClient(opts)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		client.Close()
		tb.Fatalf("redistest: Redis is not reachable at %s (%v): %s", URL(), err, startHint)
	}
	ns := "parleytest:" + randomHex(tb)
	tb.Cleanup(func() {
		defer client.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		iter := client.Scan(ctx, 0, ns+":*", 1000).Iterator()
		for iter.Next(ctx) {
			if err := client.Del(ctx, iter.Val()).Err(); err != nil {
				tb.Errorf("redistest: delete %s: %v", iter.Val(), err)
				return
			}
		}
		if err := iter.Err(); err != nil {
			tb.Errorf("redistest: scan the test's keys: %v", err)
		}
	})
	return ns, client
}

func randomHex(tb testing.TB) string {
	tb.Helper()
	buf := make([]byte, 8)
	if _, err := rand.Read(buf); err != nil {
		tb.Fatalf("redistest: %v", err)
	}
	return hex.EncodeToString(buf)
}
