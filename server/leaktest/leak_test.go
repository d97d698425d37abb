// Package leaktest builds, serves and closes whole Parley servers many times in one process and
// checks that nothing is left behind. It is a package of its own so that its long, sequential run
// (it counts the process's goroutines, so nothing may run beside it) goes on in a process of its
// own, beside the server package's parallel tests.
package leaktest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/parleyhq/parley/db/dbtest"
	"github.com/parleyhq/parley/devtoken"
	"github.com/parleyhq/parley/gen/api"
	"github.com/parleyhq/parley/internal/redistest"
	"github.com/parleyhq/parley/server"
	"github.com/parleyhq/parley/server/servertest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Building, serving and closing the whole server many times in one process leaves no goroutine
// behind and does not grow the heap: nothing is global, every resource has an owner that closes
// it. Each cycle runs every long-lived part: the pool, the Redis broker with its consumer, the
// dispatcher, the hub with a WebSocket that receives a message, and the rate limiters in Redis.
// This test is deliberately not parallel: it counts the process's goroutines.
func TestServerLifecycleLeavesNothingBehind(t *testing.T) {
	const cycles = 200
	cfg := leakConfig(t)
	token, err := devtoken.Issue([]byte(secret), "alice", "", "", time.Hour)
	require.NoError(t, err)

	cycle := func() error {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		s, err := server.New(ctx, cfg, servertest.DiscardLogger())
		if err != nil {
			return err
		}
		defer s.Close()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		served := make(chan error, 1)
		go func() { served <- s.Serve(ctx, ln) }()
		if err := exerciseServer(ctx, "http://"+ln.Addr().String(), token); err != nil {
			return err
		}
		cancel()
		return <-served
	}

	// One warm-up cycle fills what is loaded once per process (the parsed spec, TLS and DNS
	// tables, regexp caches, Redis scripts), so the baseline reflects steady state.
	require.NoError(t, cycle())
	baseGoroutines, baseHeap := settle(t, 0)

	for i := range cycles {
		require.NoError(t, cycle(), "cycle %d", i)
	}
	goroutines, heap := settle(t, baseGoroutines)

	growth := int64(heap) - int64(baseHeap)
	t.Logf("after %d build/serve/close cycles: goroutines %d (baseline %d), heap %.2f MiB (baseline %.2f MiB, growth %+.1f KiB)",
		cycles, goroutines, baseGoroutines, mib(heap), mib(baseHeap), float64(growth)/1024)
	require.LessOrEqual(t, goroutines, baseGoroutines, "goroutines leaked")
	require.Less(t, growth, int64(2<<20), "heap grew by more than 2 MiB over %d cycles", cycles)
}

const secret = "leaktest-secret-of-thirty-two-b!"

// leakConfig is a node with everything a cycle can start: a database of the test's own, Redis
// in a namespace of its own, rate limits in Redis. Its consumer blocks briefly on Redis, so each
// Close is quick.
func leakConfig(t *testing.T) server.Config {
	t.Helper()
	cfg := server.DefaultConfig()
	cfg.DatabaseURL = dbtest.NewDatabase(t)
	cfg.Migrate = false // dbtest's databases are migrated
	cfg.Auth = server.AuthConfig{Secret: []byte(secret)}
	cfg.DBMaxConns = 2
	namespace, _ := redistest.Namespace(t)
	cfg.Redis.URL, cfg.Redis.Namespace, cfg.Redis.NodeID = redistest.URL(), namespace, "leaktest"
	cfg.Redis.Shards = 4
	cfg.Redis.Block = 20 * time.Millisecond
	// Every request still goes through the limiters in Redis, under budgets that 200 quick cycles
	// as one user cannot spend: the defaults (300 writes a minute) refuse them once cycles run
	// faster than that.
	for _, r := range []*server.Rate{&cfg.Limits.Sends, &cfg.Limits.Writes, &cfg.Limits.Handshakes} {
		*r = server.Rate{PerMinute: 1_000_000, Burst: 100_000}
	}
	return cfg
}

// exerciseServer drives one server through its parts without the test helpers, which register
// cleanups that would outlive the cycle: reads, a WebSocket, a conversation and a message that
// the WebSocket must receive.
func exerciseServer(ctx context.Context, base, token string) error {
	transport := &http.Transport{}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport}
	do := func(method, path, body string, want int) ([]byte, error) {
		req, err := http.NewRequestWithContext(ctx, method, base+path, strings.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(resp.Body)
		if err == nil && resp.StatusCode != want {
			err = fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, data)
		}
		return data, err
	}
	for _, path := range []string{"/readyz", "/v1/me", "/v1/conversations", "/metrics"} {
		if _, err := do("GET", path, "", http.StatusOK); err != nil {
			return err
		}
	}

	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/v1/ws", &websocket.DialOptions{
		HTTPClient: client, HTTPHeader: http.Header{"Authorization": []string{"Bearer " + token}},
	})
	if err != nil {
		return fmt.Errorf("dial websocket: %w", err)
	}
	defer ws.CloseNow()
	// Live delivery covers what is committed after ready.
	if _, data, err := ws.Read(ctx); err != nil || !strings.Contains(string(data), `"ready"`) {
		return fmt.Errorf("wait for ready: %q, %w", data, err)
	}
	if err := ws.Write(ctx, websocket.MessageText, []byte(`{"type":"resume","cursors":{}}`)); err != nil {
		return err
	}

	created, err := do("POST", "/v1/conversations", `{"type":"group","member_ids":["bob"]}`, http.StatusCreated)
	if err != nil {
		return err
	}
	var conv api.Conversation
	if err := json.Unmarshal(created, &conv); err != nil {
		return err
	}
	if _, err := do("POST", "/v1/conversations/"+conv.Id.String()+"/messages", `{"client_msg_id":"c1","body":"hi"}`, http.StatusCreated); err != nil {
		return err
	}
	readCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		_, data, err := ws.Read(readCtx)
		if err != nil {
			return fmt.Errorf("wait for the message on the websocket: %w", err)
		}
		var f api.EventFrame
		if json.Unmarshal(data, &f) == nil && f.Event.Type == api.EventTypeMessageCreated && f.Event.ConversationId == conv.Id {
			return ws.Close(websocket.StatusNormalClosure, "")
		}
	}
}

// settle waits (up to a deadline) for background goroutines of closed servers to exit, then
// returns the goroutine count and the live heap after a full collection.
func settle(t *testing.T, want int) (goroutines int, heap uint64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		runtime.GC()
		goroutines = runtime.NumGoroutine()
		if want == 0 || goroutines <= want || time.Now().After(deadline) {
			break
		}
		runtime.Gosched()
	}
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return goroutines, m.HeapAlloc
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }
