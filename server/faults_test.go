package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/db/dbtest"
	"github.com/parleyhq/parley/gen/api"
	"github.com/parleyhq/parley/internal/redistest"
)

// Fault runs prove that Parley loses no committed message when a dependency or a node fails.
//
// A run connects WebSocket clients, one per member of a few conversations on every node, that
// behave like real clients: when a connection closes they reconnect and send resume with the last
// seq they hold per conversation. A sender posts messages through the HTTP API at a steady pace;
// after a 503 or a transport error it retries the same client_msg_id (idempotent) until it gets
// 201 or 200, so every message is committed exactly once. The fault is injected mid-run. At the
// end every client's events of each of its conversations are compared with the database, whose
// seqs are 1..last_seq: none may be lost, none duplicated, none out of order. Each run logs one
// row, "FAULT | …", which `make faults` gathers into a table.

// faultMembers are the run's conversations, by members; the first member creates it.
var faultMembers = [][]string{{"alice", "bob", "carol"}, {"dave", "alice"}, {"erin", "bob", "carol", "dave"}}

var faultUsers = []string{"alice", "bob", "carol", "dave", "erin"}

const (
	faultMessages = 300                   // messages per run
	faultPace     = 10 * time.Millisecond // one message started every tick: about 3s of sending
	faultInFlight = 16                    // sends in flight at most
	// faultRunTimeout bounds a whole run; faultSettle bounds waiting for the clients to catch up.
	faultRunTimeout = 2 * time.Minute
	faultSettle     = time.Minute
	// maxRetryAfter caps how long a sender honours Retry-After, to keep runs short.
	maxRetryAfter = time.Second
)

// faultOptions lifts the limits a send run would hit: fault runs are not about them.
func faultOptions(cfg *Config) {
	cfg.Limits = Limits{}
	cfg.Hub.MaxConnsPerUser = 0
}

// quickGone makes a node that stops heartbeating count as gone after seconds, not minutes: the
// heartbeat (every maintenance pass, max(ClaimIdle/3, 1s)) stays well within NodeGoneAfter.
func quickGone(cfg *Config) {
	cfg.Redis.ClaimIdle = 1500 * time.Millisecond
	cfg.Redis.NodeGoneAfter = 5 * time.Second
}

// faultTarget is one node as clients see it through a load balancer.
type faultTarget struct {
	base string
	// down: the load balancer sends no requests there (the node is restarting, or gone).
	down atomic.Bool
	// gone: the node will not come back; its WebSocket clients reconnect to another node.
	gone atomic.Bool
}

type faultConv struct {
	id      uuid.UUID
	members []string
}

// faultRun is one send run with its clients and its counts.
type faultRun struct {
	t       *testing.T
	name    string
	dbURL   string
	targets []*faultTarget
	convs   []faultConv
	senders map[*faultTarget]map[string]*api.ClientWithResponses
	clients []*faultClient
	started time.Time

	committed   atomic.Int64 // messages answered 201 or 200
	unavailable atomic.Int64 // 503 answers with Retry-After
	transport   atomic.Int64 // requests that got no answer
	// paused, while set, holds new sends until it is closed (see pauseSends).
	paused atomic.Pointer[chan struct{}]

	stopClients context.CancelFunc
	clientsDone sync.WaitGroup
}

// newFaultRun creates the conversations through the first node and connects every user's client
// to every node, and waits until all of them are live.
func newFaultRun(t *testing.T, name, dbURL string, bases ...string) *faultRun {
	t.Helper()
	transport := &http.Transport{MaxIdleConnsPerHost: faultInFlight}
	t.Cleanup(transport.CloseIdleConnections)
	httpClient := &http.Client{Transport: transport, Timeout: 15 * time.Second}
	r := &faultRun{t: t, name: name, dbURL: dbURL, senders: map[*faultTarget]map[string]*api.ClientWithResponses{}}
	for _, base := range bases {
		target := &faultTarget{base: base}
		r.targets = append(r.targets, target)
		r.senders[target] = map[string]*api.ClientWithResponses{}
		for _, user := range faultUsers {
			r.senders[target][user] = apiClient(t, base, user, api.WithHTTPClient(httpClient))
		}
	}
	for _, members := range faultMembers {
		id := createGroupVia(t, r.senders[r.targets[0]][members[0]], members[1:]...)
		r.convs = append(r.convs, faultConv{id: id, members: members})
	}

	ctx, cancel := context.WithCancel(context.Background())
	r.stopClients = func() {
		cancel()
		r.clientsDone.Wait()
	}
	t.Cleanup(r.stopClients)
	for home := range r.targets {
		for _, user := range faultUsers {
			c := &faultClient{run: r, user: user, home: home, token: tokenFor(t, user), arrivals: map[uuid.UUID][]int64{}}
			for _, conv := range r.convs {
				for _, m := range conv.members {
					if m == user {
						c.convs = append(c.convs, conv.id)
					}
				}
			}
			r.clients = append(r.clients, c)
			r.clientsDone.Go(func() { c.connect(ctx) })
		}
	}
	waitCtx, cancelWait := context.WithTimeout(ctx, 15*time.Second)
	defer cancelWait()
	require.NoError(t, poll(waitCtx, 10*time.Millisecond, func() bool {
		for _, c := range r.clients {
			if !c.isLive() {
				return false
			}
		}
		return true
	}), "every client connects and resumes")
	r.started = time.Now()
	return r
}

// sendWithFault sends faultMessages messages in the background while fault runs on the test's
// goroutine (so it may use require), and returns once both are done and every message is
// committed. fault should wait on waitCommitted to inject itself mid-run.
func (r *faultRun) sendWithFault(fault func(ctx context.Context)) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), faultRunTimeout)
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		r.sendAll(ctx)
	}()
	stop := func() {
		cancel()
		<-sent
	}
	r.t.Cleanup(stop) // should fault fail the test
	fault(ctx)
	select {
	case <-sent:
	case <-ctx.Done():
	}
	stop()
	require.Equal(r.t, int64(faultMessages), r.committed.Load(), "every message is committed in the end")
}

func (r *faultRun) sendAll(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	slots := make(chan struct{}, faultInFlight)
	pace := time.NewTicker(faultPace)
	defer pace.Stop()
	for i := range faultMessages {
		select {
		case <-ctx.Done():
			return
		case <-pace.C:
		}
		if paused := r.paused.Load(); paused != nil {
			select {
			case <-ctx.Done():
				return
			case <-*paused:
			}
		}
		select {
		case <-ctx.Done():
			return
		case slots <- struct{}{}:
		}
		wg.Go(func() {
			defer func() { <-slots }()
			r.sendOne(ctx, i)
		})
	}
}

// sendOne sends message i as a client would: the same client_msg_id until it is committed,
// through the next node the load balancer offers after a failure.
func (r *faultRun) sendOne(ctx context.Context, i int) {
	conv := r.convs[i%len(r.convs)]
	user := conv.members[(i/len(r.convs))%len(conv.members)]
	body := api.SendMessageJSONRequestBody{ClientMsgId: fmt.Sprintf("fault-%d", i), Body: fmt.Sprintf("message %d", i)}
	for attempt := 0; ; attempt++ {
		resp, err := r.senders[r.targetFor(i+attempt)][user].SendMessageWithResponse(ctx, conv.id, body)
		wait := 100 * time.Millisecond
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			r.transport.Add(1)
		case resp.StatusCode() == http.StatusCreated || resp.StatusCode() == http.StatusOK:
			r.committed.Add(1)
			return
		case resp.StatusCode() == http.StatusServiceUnavailable && resp.HTTPResponse.Header.Get("Retry-After") != "":
			r.unavailable.Add(1)
			if s, err := strconv.Atoi(resp.HTTPResponse.Header.Get("Retry-After")); err == nil {
				wait = min(time.Duration(s)*time.Second, maxRetryAfter)
			}
		default:
			// A 500, a 503 without Retry-After, or a refusal: not what a fault may cause.
			r.t.Errorf("%s: message %d answered %d (Retry-After %q): %s", r.name, i, resp.StatusCode(), resp.HTTPResponse.Header.Get("Retry-After"), resp.Body)
			return
		}
		pause(ctx, wait)
	}
}

// targetFor is the node the load balancer gives request i: round robin over the nodes up.
func (r *faultRun) targetFor(i int) *faultTarget {
	for k := range r.targets {
		if t := r.targets[(i+k)%len(r.targets)]; !t.down.Load() {
			return t
		}
	}
	return r.targets[i%len(r.targets)]
}

// pauseSends holds new sends (those in flight finish) until the returned resume is called, for a
// fault that needs sends still to come once it has happened; the test's end resumes them too.
func (r *faultRun) pauseSends() (resume func()) {
	paused := make(chan struct{})
	r.paused.Store(&paused)
	resume = sync.OnceFunc(func() {
		r.paused.Store(nil)
		close(paused)
	})
	r.t.Cleanup(resume)
	return resume
}

// waitCommitted waits until at least n messages are committed.
func (r *faultRun) waitCommitted(ctx context.Context, n int64) error {
	if err := poll(ctx, time.Millisecond, func() bool { return r.committed.Load() >= n }); err != nil {
		return fmt.Errorf("%d of %d messages committed: %w", r.committed.Load(), n, err)
	}
	return nil
}

// faultTally is one row of the fault table.
type faultTally struct {
	sent, unavailable, transport, lost, duplicated, outOfOrder, reconnects int64
	duration                                                               time.Duration
}

// finish waits until every client holds its conversations' last seqs (or faultSettle passes),
// stops the clients, compares what each received with the database, logs the run's row of the
// fault table and fails the test on any loss, duplicate or reordering.
func (r *faultRun) finish() faultTally {
	r.t.Helper()
	last := r.committedLog()
	ctx, cancel := context.WithTimeout(context.Background(), faultSettle)
	defer cancel()
	settled := poll(ctx, 10*time.Millisecond, func() bool {
		for _, c := range r.clients {
			if !c.caughtUp(last) {
				return false
			}
		}
		return true
	})
	tally := faultTally{
		sent: r.committed.Load(), unavailable: r.unavailable.Load(), transport: r.transport.Load(),
		duration: time.Since(r.started),
	}
	r.stopClients()

	var problems []string
	for _, c := range r.clients {
		c.mu.Lock()
		tally.reconnects += int64(max(c.sessions-1, 0))
		for _, conv := range c.convs {
			lost, dup, ooo := compareSeqs(c.arrivals[conv], last[conv])
			tally.lost += lost
			tally.duplicated += dup
			tally.outOfOrder += ooo
			if lost+dup+ooo > 0 {
				problems = append(problems, fmt.Sprintf("%s on node %d, conversation %s: %d lost, %d duplicated, %d out of order of 1..%d",
					c.user, c.home, conv, lost, dup, ooo, last[conv]))
			}
		}
		c.mu.Unlock()
	}
	r.t.Logf(faultRowFormat, r.name, tally.sent, tally.unavailable, tally.transport,
		tally.lost, tally.duplicated, tally.outOfOrder, tally.reconnects, tally.duration.Seconds())
	require.Emptyf(r.t, problems, "clients caught up: %v", settled)
	require.NoError(r.t, settled, "every client holds every seq")
	return tally
}

// faultRowFormat is a row of the fault table; the Makefile's faults target prints its header.
const faultRowFormat = "FAULT | %-32s | %4d | %4d | %7d | %4d | %4d | %5d | %10d | %7.1fs"

// committedLog reads each conversation's last_seq and checks the log behind it: seqs 1..last_seq
// without gap, and every message the run sent stored once.
func (r *faultRun) committedLog() map[uuid.UUID]int64 {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, r.dbURL)
	require.NoError(r.t, err)
	defer conn.Close(context.Background())

	rows, err := conn.Query(ctx, `
		SELECT c.id, c.last_seq, count(e.seq), coalesce(min(e.seq), 0), coalesce(max(e.seq), 0)
		FROM conversations c LEFT JOIN events e ON e.conversation_id = c.id
		GROUP BY c.id`)
	require.NoError(r.t, err)
	last := map[uuid.UUID]int64{}
	for rows.Next() {
		var id uuid.UUID
		var lastSeq, count, first, highest int64
		require.NoError(r.t, rows.Scan(&id, &lastSeq, &count, &first, &highest))
		require.Equal(r.t, []int64{1, lastSeq, lastSeq}, []int64{first, highest, count}, "conversation %s: events 1..last_seq", id)
		last[id] = lastSeq
	}
	require.NoError(r.t, rows.Err())
	require.Len(r.t, last, len(r.convs))

	var messages, distinct int64
	require.NoError(r.t, conn.QueryRow(ctx, `SELECT count(*), count(DISTINCT client_msg_id) FROM messages`).Scan(&messages, &distinct))
	require.Equal(r.t, []int64{faultMessages, faultMessages}, []int64{messages, distinct}, "each message stored once")
	return last
}

// compareSeqs compares the seqs a client received, in arrival order, with 1..last.
func compareSeqs(arrivals []int64, last int64) (lost, duplicated, outOfOrder int64) {
	seen := make(map[int64]bool, len(arrivals))
	var highest int64
	for _, seq := range arrivals {
		switch {
		case seen[seq]:
			duplicated++
			continue
		case seq < highest:
			outOfOrder++
		}
		seen[seq] = true
		highest = max(highest, seq)
	}
	for seq := int64(1); seq <= last; seq++ {
		if !seen[seq] {
			lost++
		}
	}
	return lost, duplicated, outOfOrder
}

// faultClient is one user's WebSocket client, reconnecting and resuming as a real one does.
type faultClient struct {
	run   *faultRun
	user  string
	home  int // the node it connects to while that node is not gone
	token string
	convs []uuid.UUID

	mu       sync.Mutex
	arrivals map[uuid.UUID][]int64 // event seqs per conversation, in arrival order
	sessions int                   // connections that got ready
	live     bool                  // the current connection has answered resumed
}

func (c *faultClient) connect(ctx context.Context) {
	const minWait, maxWait = 25 * time.Millisecond, 500 * time.Millisecond
	wait := minWait
	for ctx.Err() == nil {
		if c.session(ctx) {
			wait = minWait
			continue
		}
		pause(ctx, wait)
		wait = min(2*wait, maxWait)
	}
}

// session connects once and reads until the connection ends; it reports whether it got ready.
func (c *faultClient) session(ctx context.Context) (connected bool) {
	target := c.run.targets[c.home]
	for k := 0; target.gone.Load() && k < len(c.run.targets); k++ {
		target = c.run.targets[(c.home+k+1)%len(c.run.targets)]
	}
	dialCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	conn, _, err := openWS(dialCtx, target.base, c.token, nil)
	cancel()
	if err != nil {
		return false
	}
	defer conn.CloseNow()
	defer func() {
		c.mu.Lock()
		c.live = false
		c.mu.Unlock()
	}()
	conn.SetReadLimit(1 << 20)
	for {
		_, data, err := conn.Read(ctx)
		if err != nil {
			return connected
		}
		var f rawFrame
		if err := json.Unmarshal(data, &f); err != nil {
			c.run.t.Errorf("%s: undecodable frame %q", c.user, data)
			return connected
		}
		switch f.Type {
		case "ready":
			connected = true
			if c.resume(ctx, conn) != nil {
				return connected
			}
		case "resumed":
			c.mu.Lock()
			c.live = true
			c.mu.Unlock()
		case "event":
			var ev api.EventFrame
			if err := json.Unmarshal(data, &ev); err != nil {
				c.run.t.Errorf("%s: undecodable event %q", c.user, data)
				return connected
			}
			c.mu.Lock()
			c.arrivals[ev.Event.ConversationId] = append(c.arrivals[ev.Event.ConversationId], ev.Event.Seq)
			c.mu.Unlock()
		case "resync":
			// A client would page GET …/events; a run is far below the resume limit, so the server
			// has no cause to ask.
			c.run.t.Errorf("%s: unexpected resync: %s", c.user, data)
		}
	}
}

// resume sends the last seq received of each conversation (0 before any).
func (c *faultClient) resume(ctx context.Context, conn *websocket.Conn) error {
	c.mu.Lock()
	c.sessions++
	cursors := api.Cursors{}
	for _, conv := range c.convs {
		var after int64
		if got := c.arrivals[conv]; len(got) > 0 {
			after = got[len(got)-1]
		}
		cursors[conv.String()] = after
	}
	c.mu.Unlock()
	data, err := json.Marshal(api.ResumeFrame{Type: api.ResumeFrameTypeResume, Cursors: cursors})
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return conn.Write(wctx, websocket.MessageText, data)
}

func (c *faultClient) isLive() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.live
}

// caughtUp reports whether the client has received every conversation's last seq.
func (c *faultClient) caughtUp(last map[uuid.UUID]int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, conv := range c.convs {
		if !containsSeq(c.arrivals[conv], last[conv]) {
			return false
		}
	}
	return true
}

func containsSeq(seqs []int64, seq int64) bool {
	for i := len(seqs) - 1; i >= 0; i-- {
		if seqs[i] == seq {
			return true
		}
	}
	return false
}

// poll checks cond every interval until it holds or ctx ends.
func poll(ctx context.Context, interval time.Duration, cond func() bool) error {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-ticker.C:
		}
	}
	return nil
}

// pause waits d, or less when ctx ends: a client's pacing between retries.
func pause(ctx context.Context, d time.Duration) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
	case <-timer.C:
	}
}

// databaseName is the database a URL names.
func databaseName(t *testing.T, dbURL string) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	require.NoError(t, err)
	return strings.TrimPrefix(u.Path, "/")
}

// adminConn is a connection to PostgreSQL outside the test's database, closed when the test ends.
func adminConn(t *testing.T) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dbtest.AdminURL())
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// PostgreSQL terminates every connection of the server's database, several times during the run:
// pooled connections, the dispatcher's LISTEN connection and transactions in flight. Sends get
// 503 with Retry-After at worst, and the same server recovers without a restart.
func TestFaultPostgresConnectionsTerminated(t *testing.T) {
	dbURL := dbtest.NewDatabase(t)
	s := newTestServer(t, func(cfg *Config) { cfg.DatabaseURL = dbURL; cfg.DBMaxConns = 8 }, faultOptions)
	run := newFaultRun(t, "postgres connections terminated", dbURL, serveTest(t, s))
	admin := adminConn(t)
	database := databaseName(t, dbURL)

	var terminated, rounds int64
	run.sendWithFault(func(ctx context.Context) {
		for round := range int64(5) {
			require.NoError(t, run.waitCommitted(ctx, faultMessages/5+round*faultMessages/8))
			var n int64
			require.NoError(t, admin.QueryRow(ctx, `
				SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))
				FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, database).Scan(&n))
			terminated += n
			rounds++
		}
	})
	run.finish()
	t.Logf("%d PostgreSQL sessions terminated over %d rounds", terminated, rounds)
	require.Positive(t, terminated)
}

// Redis is killed twice and comes back empty each time (no persistence): streams, consumer groups
// and entries not yet read are gone. Sends keep succeeding while it is down (the outbox holds the
// events), and clients on both nodes end with every seq. The second outage ends after the last
// send, so nothing published later can reveal, through a reorder gap, what Redis lost.
func TestFaultRedisKilledAndRestartedEmpty(t *testing.T) {
	redisServer := redistest.StartProcess(t)
	c := newCluster(t, redisServer.URL())
	_, baseA := c.node(t, "node-a", faultOptions)
	_, baseB := c.node(t, "node-b", faultOptions)
	run := newFaultRun(t, "redis killed, restarted empty", c.dbURL, baseA, baseB)

	run.sendWithFault(func(ctx context.Context) {
		for _, outage := range [][2]int64{{faultMessages / 4, faultMessages / 2}, {3 * faultMessages / 4, faultMessages}} {
			require.NoError(t, run.waitCommitted(ctx, outage[0]))
			redisServer.Kill()
			killedAt := run.committed.Load()
			require.NoError(t, run.waitCommitted(ctx, outage[1]))
			require.Greater(t, run.committed.Load(), killedAt, "sends succeed while Redis is down")
			require.NoError(t, redisServer.Start(ctx))
		}
	})
	run.finish()
}

// Redis is down when both nodes start. They start anyway, and /readyz says they are degraded;
// sends succeed and the outbox holds their events. Redis comes mid-run: each node connects, and
// its clients end with every seq, those sent before Redis came included.
func TestFaultRedisDownAtStart(t *testing.T) {
	redisServer := redistest.NewProcess(t) // not started yet
	c := newCluster(t, redisServer.URL())
	_, baseA := c.node(t, "node-a", faultOptions)
	_, baseB := c.node(t, "node-b", faultOptions)
	for _, base := range []string{baseA, baseB} {
		ready, err := apiClient(t, base, "alice").GetReadinessWithResponse(t.Context())
		require.NoError(t, err)
		require.NotNil(t, ready.JSON200, "a node without Redis is ready, degraded: %s", ready.Body)
		require.Equal(t, api.HealthReportStatusDegraded, ready.JSON200.Status)
		require.Equal(t, api.CheckStatusDown, ready.JSON200.Checks.Redis)
	}
	run := newFaultRun(t, "redis down at start", c.dbURL, baseA, baseB)

	run.sendWithFault(func(ctx context.Context) {
		require.NoError(t, run.waitCommitted(ctx, faultMessages/2))
		require.NoError(t, redisServer.Start(ctx))
	})
	run.finish()
}

// outboxHeld returns the last statement of a session of the application that is inside a
// dispatcher transaction, outbox rows claimed (or deleted) and not yet committed; "" when none is.
func outboxHeld(ctx context.Context, admin *pgx.Conn, database, application string) (string, error) {
	var query string
	err := admin.QueryRow(ctx, `
		SELECT coalesce(min(query), '') FROM pg_stat_activity
		WHERE datname = $1 AND application_name = $2 AND state = 'idle in transaction' AND query ILIKE '%FROM outbox%'`,
		database, application).Scan(&query)
	return query, err
}

// groupsOf names the consumer groups of a cluster's node on its shard streams.
func groupsOf(ctx context.Context, client *redis.Client, c *cluster, node string) ([]string, error) {
	var found []string
	for shard := range 4 { // cluster nodes use 4 shards
		stream := fmt.Sprintf("%s:events:{%d}", c.namespace, shard)
		groups, err := client.XInfoGroups(ctx, stream).Result()
		if err != nil {
			return nil, err
		}
		for _, g := range groups {
			if g.Name == "node:"+node {
				found = append(found, stream)
			}
		}
	}
	return found, nil
}

// testRedisClient is a client of the tests' Redis, closed when the test ends.
func testRedisClient(t *testing.T) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(testRedisURL())
	require.NoError(t, err)
	client := redis.NewClient(opts)
	t.Cleanup(func() { client.Close() })
	return client
}

// One of two nodes, a process of its own, is killed with SIGKILL while it holds claimed outbox
// rows (frozen with SIGSTOP until PostgreSQL shows it inside a dispatcher transaction). Its
// transaction is rolled back, the surviving node publishes those rows, the dead node's WebSocket
// clients reconnect to the survivor and resume, and the survivor removes the dead node's groups.
func TestFaultNodeKilledMidDispatch(t *testing.T) {
	c := newCluster(t, testRedisURL())
	_, baseA := c.node(t, "node-a", faultOptions, quickGone)
	nodeB := startNodeProcess(t, c, "node-b")
	run := newFaultRun(t, "node SIGKILLed mid-dispatch", c.dbURL, baseA, nodeB.base)
	admin := adminConn(t)
	database := databaseName(t, c.dbURL)

	var probes int
	var held string
	run.sendWithFault(func(ctx context.Context) {
		require.NoError(t, run.waitCommitted(ctx, faultMessages/3))
		probe, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		for held == "" && probe.Err() == nil {
			probes++
			require.NoError(t, nodeB.freeze(probe))
			var err error
			held, err = outboxHeld(probe, admin, database, "parley-node-b")
			require.NoError(t, err)
			if held == "" {
				require.NoError(t, nodeB.thaw())
				pause(probe, 5*time.Millisecond)
			}
		}
		nodeB.kill()
		run.targets[1].down.Store(true)
		run.targets[1].gone.Store(true)
	})
	run.finish()
	statement, _, _ := strings.Cut(held, "\n") // sqlc's "-- name: …" line
	t.Logf("node-b killed after %d probes, inside a dispatcher transaction after %s", probes, statement)
	require.NotEmpty(t, held, "node-b was caught holding outbox rows")

	redisClient := testRedisClient(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var left []string
	require.NoError(t, poll(ctx, 50*time.Millisecond, func() bool {
		var err error
		left, err = groupsOf(ctx, redisClient, c, "node-b")
		return err == nil && len(left) == 0
	}), "the survivor removes the dead node's groups (left on %v)", left)
}

// A node whose consumer has read entries without acknowledging them stops, and starts again with
// the same node id: it reads its pending entries again and acknowledges them, and its clients
// resume on it. The broker-level proof is realtime's TestRedisBrokerRestartRedeliversPending;
// this is the same at the level of the system, under a send run.
func TestFaultConsumerRestartedWithPending(t *testing.T) {
	c := newCluster(t, testRedisURL())
	_, baseA := c.node(t, "node-a", faultOptions)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addrB := ln.Addr().String()
	nodeB := newTestServer(t, c.configure("node-b"), faultOptions)
	stopB := serveListener(t, nodeB, ln)
	run := newFaultRun(t, "consumer restarted with pending", c.dbURL, baseA, "http://"+addrB)
	redisClient := testRedisClient(t)
	var streams []string
	for shard := range 4 {
		streams = append(streams, fmt.Sprintf("%s:events:{%d}", c.namespace, shard))
	}
	pending := func(ctx context.Context) (int64, error) {
		var n int64
		for _, s := range streams {
			p, err := redisClient.XPending(ctx, s, "node:node-b").Result()
			if err != nil {
				return 0, err
			}
			n += p.Count
		}
		return n, nil
	}

	var unacknowledged int64
	run.sendWithFault(func(ctx context.Context) {
		require.NoError(t, run.waitCommitted(ctx, faultMessages/3))
		// Sends wait while node-b stops: its consumer reads until it has stopped, and what it
		// must leave unread has to come after that, however long stopping takes.
		resumeSends := run.pauseSends()
		run.targets[1].down.Store(true)
		stopB()
		nodeB.Close()
		resumeSends()
		require.NoError(t, run.waitCommitted(ctx, faultMessages/2))

		// As node-b's consumer would have before it stopped: read what came since, and stop
		// short of acknowledging it. What was committed may still be on its way through the
		// outbox: wait for it (up to 10 s).
		res, err := redisClient.XReadGroup(ctx, &redis.XReadGroupArgs{
			Group: "node:node-b", Consumer: "node-b", Streams: append(slices.Clone(streams), ">", ">", ">", ">"), Count: 1000, Block: 10 * time.Second,
		}).Result()
		require.NoError(t, err)
		var read int64
		for _, s := range res {
			read += int64(len(s.Messages))
		}
		require.Positive(t, read)
		unacknowledged, err = pending(ctx)
		require.NoError(t, err)
		require.GreaterOrEqual(t, unacknowledged, read, "pending: what was read now, and what node-b left unacknowledged when it stopped")

		restarted := newTestServer(t, c.configure("node-b"), faultOptions)
		ln, err := net.Listen("tcp", addrB)
		require.NoError(t, err)
		serveListener(t, restarted, ln)
		run.targets[1].down.Store(false)
		require.NoError(t, poll(ctx, 10*time.Millisecond, func() bool {
			n, err := pending(ctx)
			return err == nil && n == 0
		}), "the restarted node acknowledges its pending entries")
		require.Zero(t, metricValue(t, restarted, "parley_stream_dead_letters_total", ""))
	})
	run.finish()
	t.Logf("node-b restarted with %d entries read and not acknowledged", unacknowledged)
}
