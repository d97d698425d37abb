package server

import (
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// rateLimits applies Limits to HTTP requests. Handshakes are limited by client address before
// authentication, so a flood of handshakes costs no token checks; sends and other writes are
// limited by user after it.
type rateLimits struct {
	limits     Limits
	limiter    limiter
	addrHeader string
	limited    *prometheus.CounterVec
}

func newRateLimits(limits Limits, l limiter, addrHeader string, reg prometheus.Registerer) *rateLimits {
	limited := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "parley_rate_limited_total", Help: "Requests refused with 429, by limit (sends, writes, handshakes).",
	}, []string{"limit"})
	for _, name := range []string{"sends", "writes", "handshakes"} {
		limited.WithLabelValues(name) // present at zero, so rates work from the start
	}
	reg.MustRegister(limited)
	return &rateLimits{limits: limits, limiter: l, addrHeader: addrHeader, limited: limited}
}

// handshakes limits WebSocket handshakes per client address, for operations of rate class
// handshakes.
func (rl *rateLimits) handshakes(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		op := operationFrom(r.Context())
		limit := rl.limits.Handshakes
		if op != nil && op.rate == rateHandshakes && limit.PerMinute > 0 && isWebSocketHandshake(r) {
			if !rl.check(w, r, string(rateHandshakes), string(rateHandshakes)+":"+rl.clientAddr(r), limit) {
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// writes limits, per user, the operations of rate class sends and writes: each class has a budget
// of its own.
func (rl *rateLimits) writes(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, ok := UserIDFrom(r.Context())
		op := operationFrom(r.Context())
		if ok && op != nil && (op.rate == rateSends || op.rate == rateWrites) {
			name, limit := string(op.rate), rl.limits.Writes
			if op.rate == rateSends {
				limit = rl.limits.Sends
			}
			if limit.PerMinute > 0 && !rl.check(w, r, name, name+":"+user, limit) {
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// check asks the limiter, sets the RateLimit-* headers, and answers 429 when the request is over.
func (rl *rateLimits) check(w http.ResponseWriter, r *http.Request, name, key string, limit Rate) bool {
	d := rl.limiter.allow(r.Context(), key, limit)
	h := w.Header()
	h.Set("RateLimit-Limit", strconv.Itoa(d.limit))
	h.Set("RateLimit-Remaining", strconv.Itoa(d.remaining))
	h.Set("RateLimit-Reset", strconv.Itoa(ceilSeconds(d.resetAfter)))
	if d.allowed {
		return true
	}
	rl.limited.WithLabelValues(name).Inc()
	// Whole seconds, never 0: a client told to wait 0 s would retry at once.
	retry := max(1, ceilSeconds(d.retryAfter))
	h.Set("Retry-After", strconv.Itoa(retry))
	writeProblem(w, newProblem(http.StatusTooManyRequests, "rate_limited",
		fmt.Sprintf("Too many %s: try again in %d s.", name, retry)))
	return false
}

// clientAddr is the address requests are limited by: the TCP peer, or, behind a trusted proxy,
// the last address that proxy put in addrHeader (earlier entries are the client's to forge).
func (rl *rateLimits) clientAddr(r *http.Request) string {
	if rl.addrHeader != "" {
		if v := r.Header.Values(rl.addrHeader); len(v) > 0 {
			entries := strings.Split(v[len(v)-1], ",")
			if addr := strings.TrimSpace(entries[len(entries)-1]); addr != "" {
				return addr
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func ceilSeconds(d time.Duration) int {
	return int(math.Ceil(d.Seconds()))
}
