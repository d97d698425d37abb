package server

import (
	"context"
	"fmt"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/db/dbtest"
	"github.com/parleyhq/parley/gen/api"
	"github.com/parleyhq/parley/internal/redistest"
)

func testRedisURL() string { return redistest.URL() }

// cluster is several Parley nodes sharing one database and one Redis namespace.
type cluster struct {
	dbURL, redisURL, namespace string
}

func newCluster(t *testing.T, redisURL string) *cluster {
	t.Helper()
	namespace, _ := redistest.Namespace(t)
	return &cluster{dbURL: dbtest.NewDatabase(t), redisURL: redisURL, namespace: namespace}
}

// node starts one node of the cluster, serving on a random port, and returns its base URL.
func (c *cluster) node(t *testing.T, id string, options ...func(*Config)) (*Server, string) {
	t.Helper()
	s := newTestServer(t, append([]func(*Config){c.configure(id)}, options...)...)
	return s, serveTest(t, s)
}

// configure makes a configuration that of the cluster's node id, whether it runs in this process
// or in one of its own (startNodeProcess).
func (c *cluster) configure(id string) func(*Config) {
	return func(cfg *Config) {
		cfg.DatabaseURL = c.dbURL
		cfg.Redis.URL = c.redisURL
		cfg.Redis.NodeID = id
		cfg.Redis.Namespace = c.namespace
		cfg.Redis.Shards = 4
		cfg.Redis.Block = 200 * time.Millisecond
		cfg.Dispatcher.BreakerTimeout = 500 * time.Millisecond
	}
}

// collectSeqs reads a connection's events of one conversation until it has seen seq want, and
// returns them in arrival order.
func collectSeqs(t *testing.T, c *wsClient, conv uuid.UUID, want int64, within time.Duration) []int64 {
	t.Helper()
	deadline := time.Now().Add(within)
	var seqs []int64
	for len(seqs) == 0 || seqs[len(seqs)-1] < want {
		ev := c.nextEvent(time.Until(deadline))
		if ev.ConversationId == conv {
			seqs = append(seqs, ev.Seq)
		}
	}
	return seqs
}

func oneToN(n int64) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = int64(i + 1)
	}
	return out
}

// sendConcurrently sends n messages into conv, spread over the clients, all at once.
func sendConcurrently(t *testing.T, conv uuid.UUID, n int, clients ...*api.ClientWithResponses) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			client := clients[i%len(clients)]
			resp, err := client.SendMessageWithResponse(context.Background(), conv, api.SendMessageJSONRequestBody{ClientMsgId: uuid.NewString(), Body: fmt.Sprint("m", i)})
			if err == nil && resp.StatusCode() != 201 {
				err = fmt.Errorf("send: %d %s", resp.StatusCode(), resp.Body)
			}
			if err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

// Senders on both nodes write into one conversation; every WebSocket on either node sees 1..N in
// order, without gap or duplicate.
func TestTwoNodesDeliverEverySeqInOrder(t *testing.T) {
	t.Parallel()
	c := newCluster(t, testRedisURL())
	_, baseA := c.node(t, "node-a", withoutRateLimits)
	_, baseB := c.node(t, "node-b", withoutRateLimits)

	aliceA := apiClient(t, baseA, "alice")
	bobB := apiClient(t, baseB, "bob")
	conv := createGroupVia(t, aliceA, "bob", "carol", "dave")

	var clients []*wsClient
	for _, w := range []struct{ base, user string }{{baseA, "alice"}, {baseA, "carol"}, {baseB, "bob"}, {baseB, "dave"}, {baseB, "carol"}} {
		ws := dialWS(t, w.base, tokenFor(t, w.user))
		ws.ready(nil)
		clients = append(clients, ws)
	}

	const n = 120
	sendConcurrently(t, conv, n, aliceA, bobB)
	for i, ws := range clients {
		require.Equal(t, oneToN(n), collectSeqs(t, ws, conv, n, 30*time.Second), "client %d", i)
		ws.noFrameOf("event")
	}
}

// Redis goes away mid-run and comes back: sends keep succeeding (the outbox holds them), and once
// Redis is back every client has every seq exactly once, in order.
func TestTwoNodesSurviveRedisOutage(t *testing.T) {
	t.Parallel()
	redisURL, err := url.Parse(testRedisURL())
	require.NoError(t, err)
	proxy := newTCPProxy(t, redisURL.Host)
	redisURL.Host = proxy.addr
	c := newCluster(t, redisURL.String())
	serverA, baseA := c.node(t, "node-a", withoutRateLimits)
	_, baseB := c.node(t, "node-b", withoutRateLimits)

	aliceA := apiClient(t, baseA, "alice")
	bobB := apiClient(t, baseB, "bob")
	conv := createGroupVia(t, aliceA, "bob", "carol")
	carolA := dialWS(t, baseA, tokenFor(t, "carol"))
	carolA.ready(nil)
	carolB := dialWS(t, baseB, tokenFor(t, "carol"))
	carolB.ready(nil)

	sendConcurrently(t, conv, 20, aliceA, bobB)
	proxy.cut()
	sendConcurrently(t, conv, 30, aliceA, bobB)
	ready, err := aliceA.GetReadinessWithResponse(t.Context())
	require.NoError(t, err)
	require.Equal(t, 200, ready.StatusCode(), "without Redis the node still serves")
	require.Equal(t, api.HealthReportStatusDegraded, ready.JSON200.Status)
	require.Equal(t, api.CheckStatusDown, ready.JSON200.Checks.Redis)
	require.Positive(t, metricValue(t, serverA, "parley_outbox_backlog", ""), "the outbox holds what Redis cannot take")

	proxy.restore(t)
	sendConcurrently(t, conv, 20, aliceA, bobB)
	for i, ws := range []*wsClient{carolA, carolB} {
		require.Equal(t, oneToN(70), collectSeqs(t, ws, conv, 70, 60*time.Second), "client %d", i)
		ws.noFrameOf("event")
	}
}
