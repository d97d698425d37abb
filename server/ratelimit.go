package server

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
	"github.com/sony/gobreaker/v2"
	"golang.org/x/time/rate"
)

// decision is what a limiter said about one request.
type decision struct {
	allowed    bool
	limit      int           // the burst: what a quiet key may do at once
	remaining  int           // what the key may still do at once
	retryAfter time.Duration // when denied: until the next request is allowed
	resetAfter time.Duration // until the key is back to its full burst
}

// limiter decides whether the request of key may go on under r.
type limiter interface {
	allow(ctx context.Context, key string, r Rate) decision
}

// localLimiter keeps one token bucket per key in memory. There is no sweeper goroutine: a key
// whose bucket has refilled is indistinguishable from a new one, so such entries are dropped
// lazily, at most once per sweepEvery, by the request that finds the sweep due.
type localLimiter struct {
	mu        sync.Mutex
	buckets   map[string]*rate.Limiter
	nextSweep time.Time
	now       func() time.Time
}

const sweepEvery = time.Minute

func newLocalLimiter(now func() time.Time) *localLimiter {
	return &localLimiter{buckets: make(map[string]*rate.Limiter), now: now}
}

func (l *localLimiter) allow(_ context.Context, key string, r Rate) decision {
	now := l.now()
	perSecond := rate.Limit(float64(r.PerMinute) / 60)
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.After(l.nextSweep) {
		for k, b := range l.buckets {
			if b.TokensAt(now) >= float64(b.Burst()) {
				delete(l.buckets, k)
			}
		}
		l.nextSweep = now.Add(sweepEvery)
	}
	// A key is always spent under the same Rate: its prefix names the limit.
	b, ok := l.buckets[key]
	if !ok {
		b = rate.NewLimiter(perSecond, r.Burst)
		l.buckets[key] = b
	}
	d := decision{allowed: b.AllowN(now, 1), limit: r.Burst}
	tokens := b.TokensAt(now)
	d.remaining = max(0, int(math.Floor(tokens)))
	d.resetAfter = secondsAt(float64(r.Burst)-tokens, perSecond)
	if !d.allowed {
		d.retryAfter = secondsAt(1-tokens, perSecond)
	}
	return d
}

// size is how many keys the limiter holds.
func (l *localLimiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// secondsAt is how long tokens take to accrue at r.
func secondsAt(tokens float64, r rate.Limit) time.Duration {
	if tokens <= 0 {
		return 0
	}
	return time.Duration(math.Ceil(tokens / float64(r) * float64(time.Second)))
}

// redisLimiter holds the limits across nodes with GCRA in Redis. While Redis fails, a circuit
// breaker sends requests to a local limiter instead, so each node still holds the limit on its
// own and requests neither fail nor wait on Redis.
type redisLimiter struct {
	gcra     *redis_rate.Limiter
	breaker  *gobreaker.CircuitBreaker[*redis_rate.Result]
	fallback *localLimiter
	timeout  time.Duration
}

func newRedisLimiter(client *redis.Client, namespace string, fallback *localLimiter, logger *slog.Logger) *redisLimiter {
	return &redisLimiter{
		gcra:     redis_rate.NewLimiter(namespacedScripts{Client: client, namespace: namespace}),
		fallback: fallback,
		timeout:  250 * time.Millisecond,
		breaker: gobreaker.NewCircuitBreaker[*redis_rate.Result](gobreaker.Settings{
			Name:    "rate-limits",
			Timeout: 5 * time.Second,
			ReadyToTrip: func(c gobreaker.Counts) bool {
				return c.ConsecutiveFailures >= 3
			},
			OnStateChange: func(_ string, from, to gobreaker.State) {
				logger.Warn("rate limits: Redis circuit changed; limits are per node while it is open", "from", from.String(), "to", to.String())
			},
		}),
	}
}

func (l *redisLimiter) allow(ctx context.Context, key string, r Rate) decision {
	res, err := l.breaker.Execute(func() (*redis_rate.Result, error) {
		// A request the client abandons says nothing about Redis: it must not trip the breaker.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.timeout)
		defer cancel()
		res, err := l.gcra.Allow(ctx, key, redis_rate.Limit{Rate: r.PerMinute, Burst: r.Burst, Period: time.Minute})
		if err != nil {
			return nil, fmt.Errorf("rate limit in Redis: %w", err)
		}
		return res, nil
	})
	if err != nil {
		return l.fallback.allow(ctx, key, r)
	}
	d := decision{allowed: res.Allowed > 0, limit: r.Burst, remaining: res.Remaining, resetAfter: res.ResetAfter}
	if !d.allowed {
		d.retryAfter = res.RetryAfter
	}
	return d
}

// namespacedScripts puts the keys redis_rate makes, "rate:<key>", under the node's namespace as
// "<namespace>:rate:<key>", like every other key Parley writes: redis_rate has no option for it.
type namespacedScripts struct {
	*redis.Client
	namespace string
}

func (c namespacedScripts) keys(keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = c.namespace + ":" + k
	}
	return out
}

func (c namespacedScripts) Eval(ctx context.Context, script string, keys []string, args ...any) *redis.Cmd {
	return c.Client.Eval(ctx, script, c.keys(keys), args...)
}

func (c namespacedScripts) EvalSha(ctx context.Context, sha1 string, keys []string, args ...any) *redis.Cmd {
	return c.Client.EvalSha(ctx, sha1, c.keys(keys), args...)
}

func (c namespacedScripts) EvalRO(ctx context.Context, script string, keys []string, args ...any) *redis.Cmd {
	return c.Client.EvalRO(ctx, script, c.keys(keys), args...)
}

func (c namespacedScripts) EvalShaRO(ctx context.Context, sha1 string, keys []string, args ...any) *redis.Cmd {
	return c.Client.EvalShaRO(ctx, sha1, c.keys(keys), args...)
}

func (c namespacedScripts) Del(ctx context.Context, keys ...string) *redis.IntCmd {
	return c.Client.Del(ctx, c.keys(keys)...)
}
