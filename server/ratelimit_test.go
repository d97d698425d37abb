package server

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/gen/api"
	"github.com/parleyhq/parley/internal/redistest"
)

// sendRaw sends one message and returns the raw answer.
func sendRaw(t *testing.T, client *api.ClientWithResponses, conv uuid.UUID) *api.SendMessageResponse {
	t.Helper()
	resp, err := client.SendMessageWithResponse(t.Context(), conv, api.SendMessageJSONRequestBody{ClientMsgId: uuid.NewString(), Body: "hi"})
	require.NoError(t, err)
	return resp
}

func headerInt(t *testing.T, h http.Header, name string) int {
	t.Helper()
	n, err := strconv.Atoi(h.Get(name))
	require.NoError(t, err, "%s: %q", name, h.Get(name))
	return n
}

func TestSendsAreRateLimitedPerUser(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, func(cfg *Config) {
		cfg.Limits = Limits{Sends: Rate{PerMinute: 6, Burst: 3}, Writes: Rate{PerMinute: 6, Burst: 5}}
	})
	base := serveTest(t, s)
	alice, bob := apiClient(t, base, "alice"), apiClient(t, base, "bob")
	conv := createGroupVia(t, alice, "bob")

	for want := 2; want >= 0; want-- {
		resp := sendRaw(t, alice, conv)
		require.Equal(t, http.StatusCreated, resp.StatusCode(), string(resp.Body))
		h := resp.HTTPResponse.Header
		require.Equal(t, 3, headerInt(t, h, "RateLimit-Limit"))
		require.Equal(t, want, headerInt(t, h, "RateLimit-Remaining"))
		require.Positive(t, headerInt(t, h, "RateLimit-Reset"))
	}

	refused := sendRaw(t, alice, conv)
	require.Equal(t, http.StatusTooManyRequests, refused.StatusCode())
	require.Equal(t, "application/problem+json", refused.HTTPResponse.Header.Get("Content-Type"))
	require.Equal(t, "rate_limited", refused.ApplicationproblemJSON429.Code)
	// 6 a minute is one every 10 s: the next send is about 10 s away.
	retry := headerInt(t, refused.HTTPResponse.Header, "Retry-After")
	require.InDelta(t, 10, retry, 1)
	require.Equal(t, 0, headerInt(t, refused.HTTPResponse.Header, "RateLimit-Remaining"))

	// The limit is alice's: bob sends, and alice's other writes have a budget of their own.
	require.Equal(t, http.StatusCreated, sendRaw(t, bob, conv).StatusCode())
	read, err := alice.MarkReadWithResponse(t.Context(), conv, api.MarkReadJSONRequestBody{Seq: 1})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, read.StatusCode(), string(read.Body))
	require.Equal(t, 3, headerInt(t, read.HTTPResponse.Header, "RateLimit-Remaining"), "the group creation and this read spent writes")

	// Reads are not limited.
	for range 5 {
		list, err := alice.ListMessagesWithResponse(t.Context(), conv, nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, list.StatusCode())
	}
}

func TestWebSocketHandshakesAreRateLimitedPerAddress(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, func(cfg *Config) {
		cfg.Limits = Limits{Handshakes: Rate{PerMinute: 6, Burst: 2}}
	})
	base := serveTest(t, s)
	dialWS(t, base, tokenFor(t, "alice")).ready(nil)

	// A handshake with a bad token still spends the address's budget: it is counted before the
	// token is checked, so a flood of them costs no signature checks.
	_, resp, err := websocket.Dial(t.Context(), "ws"+strings.TrimPrefix(base, "http")+"/v1/ws", &websocket.DialOptions{
		HTTPHeader: http.Header{"Authorization": []string{"Bearer not-a-token"}},
	})
	require.Error(t, err)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)

	_, resp, err = websocket.Dial(t.Context(), "ws"+strings.TrimPrefix(base, "http")+"/v1/ws", &websocket.DialOptions{
		HTTPHeader: http.Header{"Authorization": []string{"Bearer " + tokenFor(t, "bob")}},
	})
	require.Error(t, err)
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	require.NotEmpty(t, resp.Header.Get("Retry-After"))
	require.Equal(t, "0", resp.Header.Get("RateLimit-Remaining"))

	// Ordinary requests from the same address are not handshakes.
	me, err := apiClient(t, base, "bob").GetMeWithResponse(t.Context())
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, me.StatusCode())
}

func TestHandshakeLimitUsesTheProxysClientAddress(t *testing.T) {
	rl := &rateLimits{addrHeader: "X-Forwarded-For"}
	r, err := http.NewRequest(http.MethodGet, "/v1/ws", nil)
	require.NoError(t, err)
	r.RemoteAddr = "10.0.0.1:5000"
	require.Equal(t, "10.0.0.1", rl.clientAddr(r), "no header: the TCP peer")
	r.Header.Add("X-Forwarded-For", "6.6.6.6, 203.0.113.7")
	require.Equal(t, "203.0.113.7", rl.clientAddr(r), "the entry the proxy added, not the client's own claims")
}

// The limit holds across nodes: both nodes spend one budget in Redis.
func TestSendLimitHoldsAcrossNodes(t *testing.T) {
	t.Parallel()
	c := newCluster(t, testRedisURL())
	limits := func(cfg *Config) { cfg.Limits = Limits{Sends: Rate{PerMinute: 6, Burst: 4}} }
	_, baseA := c.node(t, "a", limits)
	_, baseB := c.node(t, "b", limits)
	aliceA, aliceB := apiClient(t, baseA, "alice"), apiClient(t, baseB, "alice")
	conv := createGroupVia(t, aliceA, "bob")

	statuses := make([]int, 0, 6)
	for i := range 6 {
		client := aliceA
		if i%2 == 1 {
			client = aliceB
		}
		statuses = append(statuses, sendRaw(t, client, conv).StatusCode())
	}
	require.Equal(t, []int{201, 201, 201, 201, 429, 429}, statuses)
}

// While Redis fails, each node holds the limit on its own instead of failing requests.
func TestRedisLimiterFallsBackToLocalLimits(t *testing.T) {
	t.Parallel()
	opts, err := redis.ParseURL(testRedisURL())
	require.NoError(t, err)
	proxy := newTCPProxy(t, opts.Addr)
	client := redis.NewClient(&redis.Options{Addr: proxy.addr, MaxRetries: -1, DialTimeout: time.Second})
	t.Cleanup(func() { client.Close() })
	l := newRedisLimiter(client, "parleytest:"+uuid.NewString()[:8], newLocalLimiter(time.Now), discardLogger())
	limit := Rate{PerMinute: 60, Burst: 2}

	require.True(t, l.allow(t.Context(), "sends:alice", limit).allowed)
	proxy.cut()
	require.True(t, l.allow(t.Context(), "sends:alice", limit).allowed)
	require.True(t, l.allow(t.Context(), "sends:alice", limit).allowed)
	d := l.allow(t.Context(), "sends:alice", limit)
	require.False(t, d.allowed, "the local limit holds while Redis is away")
	require.Positive(t, d.retryAfter)
}

// --redis-namespace prefixes every key, the limiters' too.
func TestRedisLimiterKeysLiveUnderTheNamespace(t *testing.T) {
	t.Parallel()
	ns, client := redistest.Namespace(t)
	l := newRedisLimiter(client, ns, newLocalLimiter(time.Now), discardLogger())
	require.True(t, l.allow(t.Context(), "sends:alice", Rate{PerMinute: 60, Burst: 2}).allowed)
	keys, err := client.Keys(t.Context(), "*"+ns+"*sends:alice").Result()
	require.NoError(t, err)
	require.Equal(t, []string{ns + ":rate:sends:alice"}, keys)
}

func TestLocalLimiterSweepsRefilledKeysLazily(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	l := newLocalLimiter(func() time.Time { return now })
	limit := Rate{PerMinute: 60, Burst: 2}
	for i := range 1000 {
		require.True(t, l.allow(context.Background(), "user-"+strconv.Itoa(i), limit).allowed)
	}
	require.Equal(t, 1000, l.size())

	// Every bucket refills within 2 s; the sweep is due after a minute and runs on the next call.
	now = now.Add(sweepEvery + time.Second)
	d := l.allow(context.Background(), "someone-new", limit)
	require.True(t, d.allowed)
	require.Equal(t, 1, l.size(), "only the key just used is left")
	require.Equal(t, 1, d.remaining)
	require.Equal(t, time.Second, d.resetAfter)
}

func TestLocalLimiterAnswersRetryAfter(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	l := newLocalLimiter(func() time.Time { return now })
	limit := Rate{PerMinute: 30, Burst: 1} // one every 2 s
	require.True(t, l.allow(context.Background(), "k", limit).allowed)
	d := l.allow(context.Background(), "k", limit)
	require.False(t, d.allowed)
	require.Equal(t, 2*time.Second, d.retryAfter)
	now = now.Add(2 * time.Second)
	require.True(t, l.allow(context.Background(), "k", limit).allowed)
}

func TestTypingIsRateLimitedPerConnection(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, func(cfg *Config) {
		cfg.Hub.TypingRate, cfg.Hub.TypingBurst = 0.5, 2
	})
	base := serveTest(t, s)
	alice := apiClient(t, base, "alice")
	conv := createGroupVia(t, alice, "bob")
	ws := dialWS(t, base, tokenFor(t, "alice"))
	ws.ready(nil)

	for range 2 {
		ws.send(api.TypingRequestFrame{Type: api.TypingRequestFrameTypeTyping, ConversationId: conv})
	}
	ws.noFrameOf("error")
	ws.send(api.TypingRequestFrame{Type: api.TypingRequestFrameTypeTyping, ConversationId: conv})
	var refused api.ErrorFrame
	require.NoError(t, json.Unmarshal(ws.nextOf("error", 5*time.Second).raw, &refused))
	require.Equal(t, "rate_limited", refused.Code)
	require.NotNil(t, refused.RetryAfterMs)
	require.InDelta(t, 2000, *refused.RetryAfterMs, 100, "one typing frame every 2 s")

	// The connection stays open and answers.
	ws.send(api.PingFrame{Type: api.PingFrameTypePing, Id: ptr("still-here")})
	ws.nextOf("pong", 5*time.Second)
}

func TestWebSocketsPerUserAreCapped(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, func(cfg *Config) { cfg.Hub.MaxConnsPerUser = 2 })
	base := serveTest(t, s)
	first := dialWS(t, base, tokenFor(t, "alice"))
	first.ready(nil)
	dialWS(t, base, tokenFor(t, "alice")).ready(nil)

	third := dialWS(t, base, tokenFor(t, "alice"))
	require.Equal(t, websocket.StatusCode(4429), third.waitClosed(5*time.Second))
	dialWS(t, base, tokenFor(t, "bob")).ready(nil) // another user is not affected

	// When one closes, the user may connect again.
	first.conn.Close(websocket.StatusNormalClosure, "")
	require.Eventually(t, func() bool {
		return metricValue(t, s, "parley_ws_connections", "") == 2
	}, 5*time.Second, 10*time.Millisecond)
	dialWS(t, base, tokenFor(t, "alice")).ready(nil)
}
