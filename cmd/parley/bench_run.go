package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"
	"golang.org/x/time/rate"

	"github.com/parleyhq/parley/devtoken"
	"github.com/parleyhq/parley/gen/api"
)

// bench is one run of `parley bench`.
type bench struct {
	cfg benchConfig
	out *report
	log io.Writer

	httpTransport, wsTransport *http.Transport
	httpc, wsHTTP              *http.Client
	api                        []*api.ClientWithResponses
	wsURLs                     []string

	tokens []string     // by user index
	convs  []*benchConv // by conversation index
	open   []*benchConn // every connection started, closed by close()

	latency          *histogram // send→deliver of messages sent within the window
	post             *histogram // POST latency of sends started within the window
	winStart, winEnd atomic.Int64
	sendSeq          atomic.Int64
	stats            benchStats

	mu         sync.Mutex
	closeCodes map[string]int
	badFrames  []string
	sendErrs   map[string]int
	sendErrEx  map[string]string
}

type benchStats struct {
	eventFrames, messages, setupEvents, unexpected atomic.Int64
	gaps, dups, resyncs, errorFrames, badFrames    atomic.Int64
	serverCloses                                   atomic.Int64
	sentOK, sentErr, windowOK, windowErr           atomic.Int64
}

// benchConv is one conversation of the run. base is its last seq once set up; final its last seq
// after the senders stopped.
type benchConv struct {
	index   int
	id      uuid.UUID
	idStr   string
	members []int
	base    int64
	final   atomic.Int64
}

func newBench(cfg benchConfig, stdout, stderr io.Writer) (*bench, error) {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	b := &bench{
		cfg: cfg, out: &report{w: stdout}, log: stderr,
		httpTransport: &http.Transport{
			DialContext: dialer.DialContext, MaxIdleConns: 1024, MaxIdleConnsPerHost: cfg.senders + 64,
			IdleConnTimeout: 90 * time.Second,
		},
		wsTransport: &http.Transport{DialContext: dialer.DialContext, MaxIdleConnsPerHost: -1},
		latency:     newHistogram(),
		post:        newHistogram(),
		closeCodes:  map[string]int{},
		sendErrs:    map[string]int{},
		sendErrEx:   map[string]string{},
	}
	b.httpc = &http.Client{Transport: b.httpTransport}
	b.wsHTTP = &http.Client{Transport: b.wsTransport}
	b.winStart.Store(math.MaxInt64)
	b.winEnd.Store(math.MaxInt64)
	for _, u := range cfg.urls {
		client, err := api.NewClientWithResponses(u, api.WithHTTPClient(b.httpc))
		if err != nil {
			return nil, err
		}
		b.api = append(b.api, client)
		b.wsURLs = append(b.wsURLs, "ws"+strings.TrimPrefix(u, "http")+"/v1/ws")
	}
	users := max(cfg.conns, cfg.convs)
	// tokens outlive the longest run: an expired one closes its connection (4401) mid-soak
	ttl := 2*max(benchMaxDuration, cfg.duration) + cfg.warmup + cfg.drain + time.Hour
	b.tokens = make([]string, users)
	for k := range users {
		token, err := devtoken.Issue(cfg.secret, cfg.userID(k), cfg.issuer, cfg.audience, ttl)
		if err != nil {
			return nil, err
		}
		b.tokens[k] = token
	}
	b.convs = make([]*benchConv, cfg.convs)
	for j := range b.convs {
		b.convs[j] = &benchConv{index: j}
	}
	for k := range users {
		conv := b.convs[k%cfg.convs]
		conv.members = append(conv.members, k)
	}
	return b, nil
}

// close ends every connection still open and the idle HTTP connections.
func (b *bench) close() {
	b.closeConns(b.open)
	b.open = nil
	b.httpTransport.CloseIdleConnections()
	b.wsTransport.CloseIdleConnections()
}

func (b *bench) run(ctx context.Context) error {
	r := b.out
	r.line("mode", b.cfg.mode)
	r.line("run id", b.cfg.runID)
	r.linef("servers", "%d (%s)", len(b.cfg.urls), strings.Join(b.cfg.urls, ", "))
	switch b.cfg.mode {
	case "idle":
		return b.runIdle(ctx)
	case "fanout":
		return b.runFanout(ctx)
	case "sends":
		return b.runSends(ctx)
	case "soak":
		return b.runSoak(ctx)
	default:
		return b.runResume(ctx)
	}
}

func (b *bench) auth(user int) api.RequestEditorFn {
	token := b.tokens[user]
	return func(_ context.Context, req *http.Request) error {
		req.Header.Set("Authorization", "Bearer "+token)
		return nil
	}
}

func (b *bench) convsOf(user int) []*benchConv { return []*benchConv{b.convs[user%len(b.convs)]} }

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.log, "bench: "+format+"\n", args...)
}

// parallel runs fn(i) for i in [0, n) on workers goroutines and returns the first error.
func parallel(ctx context.Context, n, workers int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := fn(ctx, i); err != nil {
					cancel(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx)
}

// setup creates the conversations through the HTTP API and waits until the outbox has published
// the membership events, so that they do not mingle with the measurement.
func (b *bench) setup(ctx context.Context) error {
	start := time.Now()
	b.logf("creating %d conversations for %d users", len(b.convs), len(b.tokens))
	err := parallel(ctx, len(b.convs), 8, func(ctx context.Context, j int) error {
		return b.createConv(ctx, b.convs[j])
	})
	if err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	members := len(b.tokens) / len(b.convs)
	b.out.linef("conversations", "%d (%d members each%s)", len(b.convs), members, map[bool]string{true: ", some one more", false: ""}[len(b.tokens)%len(b.convs) != 0])
	b.out.linef("setup", "%.1f s", time.Since(start).Seconds())
	return b.waitOutbox(ctx)
}

func (b *bench) createConv(ctx context.Context, conv *benchConv) error {
	client := b.api[conv.index%len(b.api)]
	creator := conv.members[0]
	others := make([]string, 0, len(conv.members)-1)
	for _, k := range conv.members[1:] {
		others = append(others, b.cfg.userID(k))
	}
	first := others[:min(len(others), 100)]
	title := fmt.Sprintf("bench %s #%d", b.cfg.runID, conv.index)
	resp, err := client.CreateConversationWithResponse(ctx, api.CreateConversationJSONRequestBody{
		Type: api.ConversationTypeGroup, Title: &title, MemberIds: first,
	}, b.auth(creator))
	if err != nil {
		return fmt.Errorf("create conversation: %w", err)
	}
	if resp.JSON201 == nil {
		return fmt.Errorf("create conversation: HTTP %d: %s", resp.StatusCode(), resp.Body)
	}
	conv.id = resp.JSON201.Id
	conv.idStr = conv.id.String()
	for _, user := range others[len(first):] {
		resp, err := client.AddMemberWithResponse(ctx, conv.id, api.AddMemberJSONRequestBody{UserId: user}, b.auth(creator))
		if err != nil {
			return fmt.Errorf("add member: %w", err)
		}
		if resp.JSON201 == nil {
			return fmt.Errorf("add member: HTTP %d: %s", resp.StatusCode(), resp.Body)
		}
	}
	last, err := b.lastSeq(ctx, conv)
	if err != nil {
		return err
	}
	conv.base = last
	return nil
}

func (b *bench) lastSeq(ctx context.Context, conv *benchConv) (int64, error) {
	resp, err := b.api[conv.index%len(b.api)].GetConversationWithResponse(ctx, conv.id, b.auth(conv.members[0]))
	if err != nil {
		return 0, fmt.Errorf("get conversation: %w", err)
	}
	if resp.JSON200 == nil {
		return 0, fmt.Errorf("get conversation: HTTP %d: %s", resp.StatusCode(), resp.Body)
	}
	return resp.JSON200.LastSeq, nil
}

// fetchFinals reads every conversation's last seq: what each member must have received.
func (b *bench) fetchFinals(ctx context.Context) error {
	return parallel(ctx, len(b.convs), 8, func(ctx context.Context, j int) error {
		last, err := b.lastSeq(ctx, b.convs[j])
		if err != nil {
			return err
		}
		b.convs[j].final.Store(last)
		return nil
	})
}

// waitOutbox waits until no server has events waiting in the outbox, then a little longer for the
// hubs to hand them out.
func (b *bench) waitOutbox(ctx context.Context) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		samples, err := b.scrapeAll(ctx)
		if err != nil {
			return err
		}
		pending := 0.0
		for _, s := range samples {
			if !s.hasBacklog {
				b.logf("%s reports no parley_outbox_backlog; waiting 1 s instead", b.cfg.urls[0])
				return sleepCtx(ctx, time.Second)
			}
			pending = max(pending, s.backlog)
		}
		if pending == 0 {
			return sleepCtx(ctx, 300*time.Millisecond)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("outbox still holds %.0f events after 60 s", pending)
		}
		if err := sleepCtx(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (b *bench) scrapeAll(ctx context.Context) ([]serverSample, error) {
	out := make([]serverSample, len(b.cfg.urls))
	err := parallel(ctx, len(b.cfg.urls), len(b.cfg.urls), func(ctx context.Context, i int) error {
		s, err := scrapeMetrics(ctx, b.httpc, b.cfg.urls[i])
		out[i] = s
		return err
	})
	return out, err
}

// connectAll starts conns with bounded handshake concurrency and waits for every handshake. It
// returns the connections that are up; the failures are reported.
func (b *bench) connectAll(ctx context.Context, label string, conns []*benchConn, resume func(*benchConn) map[string]int64) ([]*benchConn, time.Duration) {
	start := time.Now()
	sem := make(chan struct{}, b.cfg.dialConcurrency)
	errs := make([]error, len(conns))
	var wg sync.WaitGroup
	var done atomic.Int64
	stopProgress := make(chan struct{})
	progress := sync.WaitGroup{}
	progress.Go(func() {
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-stopProgress:
				return
			case <-t.C:
				b.logf("connected %d/%d", done.Load(), len(conns))
			}
		}
	})
	for i, c := range conns {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			errs[i] = ctx.Err()
			continue
		}
		b.open = append(b.open, c)
		wg.Add(1)
		go c.run(ctx, resume(c), func(err error) {
			errs[i] = err
			done.Add(1)
			<-sem
			wg.Done()
		})
	}
	wg.Wait()
	close(stopProgress)
	progress.Wait()
	took := time.Since(start)

	var up []*benchConn
	failures := map[string]int{}
	for i, c := range conns {
		if errs[i] == nil {
			up = append(up, c)
			continue
		}
		failures[errs[i].Error()]++
	}
	if len(failures) > 0 {
		msgs := make([]string, 0, len(failures))
		for msg, n := range failures {
			msgs = append(msgs, fmt.Sprintf("%d× %s", n, msg))
		}
		slices.Sort(msgs)
		for i, msg := range msgs {
			if i == 5 {
				b.logf("dial error: … %d more kinds", len(msgs)-5)
				break
			}
			b.logf("dial error: %s", msg)
		}
	}
	b.out.linef(label, "%d of %d up in %.2f s (dial errors %d)", len(up), len(conns), took.Seconds(), len(conns)-len(up))
	return up, took
}

func emptyCursors(*benchConn) map[string]int64 { return map[string]int64{} }

// closeConns closes connections normally, many at a time.
func (b *bench) closeConns(conns []*benchConn) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 256)
	for _, c := range conns {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			c.close()
		})
	}
	wg.Wait()
	b.open = slices.DeleteFunc(b.open, func(c *benchConn) bool { return slices.Contains(conns, c) })
}

// waitServerConns waits until the servers count want[i] more connections than before[i].
func (b *bench) waitServerConns(ctx context.Context, before []serverSample, want []int, within time.Duration) ([]serverSample, error) {
	deadline := time.Now().Add(within)
	for {
		samples, err := b.scrapeAll(ctx)
		if err != nil {
			return nil, err
		}
		settled := true
		for i, s := range samples {
			if int(s.wsConns-before[i].wsConns) != want[i] {
				settled = false
			}
		}
		if settled {
			return samples, nil
		}
		if time.Now().After(deadline) {
			got := make([]string, len(samples))
			for i, s := range samples {
				got[i] = fmt.Sprintf("%.0f (want %.0f)", s.wsConns, before[i].wsConns+float64(want[i]))
			}
			b.logf("servers' parley_ws_connections did not settle within %s: %s", within, strings.Join(got, ", "))
			return samples, nil
		}
		if err := sleepCtx(ctx, 200*time.Millisecond); err != nil {
			return nil, err
		}
	}
}

func (b *bench) perNode(conns []*benchConn) []int {
	out := make([]int, len(b.cfg.urls))
	for _, c := range conns {
		out[c.node]++
	}
	return out
}

// startSenders sends messages through the HTTP API from n goroutines, at perSecond overall (0: as
// fast as they go), until stop is called or, when total > 0, total messages have been tried.
// Message i goes to conversation i mod convs, from one of its members in turn.
func (b *bench) startSenders(ctx context.Context, n int, perSecond float64, total int64) (stop func()) {
	sctx, cancel := context.WithCancel(ctx)
	var lim *rate.Limiter
	if perSecond > 0 {
		lim = rate.NewLimiter(rate.Limit(perSecond), n)
	}
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for {
				if lim != nil {
					if lim.Wait(sctx) != nil {
						return
					}
				} else if sctx.Err() != nil {
					return
				}
				i := b.sendSeq.Add(1) - 1
				if total > 0 && i >= total {
					return
				}
				b.sendOne(ctx, i)
			}
		})
	}
	return func() {
		cancel()
		wg.Wait()
	}
}

func (b *bench) sendOne(ctx context.Context, i int64) {
	conv := b.convs[i%int64(len(b.convs))]
	// The sender is the conversation's members in turn, each through the server it is connected
	// to; so over a run every server takes sends and every conversation's events cross nodes.
	turn := i / int64(len(b.convs))
	member := conv.members[turn%int64(len(conv.members))]
	client := b.api[turn%int64(len(b.api))]
	start := time.Now()
	body := api.SendMessageJSONRequestBody{
		ClientMsgId: fmt.Sprintf("%s-%d", b.cfg.runID, i),
		Body:        messageBody(start.UnixNano(), b.cfg.bodyBytes),
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	resp, err := client.SendMessageWithResponse(rctx, conv.id, body, b.auth(member))
	cancel()
	took := time.Since(start)
	in := b.inWindow(start.UnixNano())
	switch {
	case err != nil:
		b.sendFailed("transport error", err.Error(), in)
	case resp.JSON201 != nil:
		b.stats.sentOK.Add(1)
		if in {
			b.stats.windowOK.Add(1)
			b.post.record(took)
		}
	default:
		b.sendFailed(fmt.Sprintf("HTTP %d", resp.StatusCode()), string(resp.Body), in)
	}
}

func (b *bench) sendFailed(kind, detail string, inWindow bool) {
	b.stats.sentErr.Add(1)
	if inWindow {
		b.stats.windowErr.Add(1)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sendErrs[kind]++
	if _, ok := b.sendErrEx[kind]; !ok {
		b.sendErrEx[kind] = detail
		b.logf("send error: %s: %s", kind, detail)
	}
}

func (b *bench) noteClose(status websocket.StatusCode, err error) {
	b.stats.serverCloses.Add(1)
	key := fmt.Sprintf("status %d", status)
	if status == -1 {
		key = err.Error()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closeCodes[key] == 0 {
		b.logf("connection closed by the server: %v", err)
	}
	b.closeCodes[key]++
}

func (b *bench) noteBadFrame(data []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.badFrames) < 5 {
		frame := string(data)
		if len(frame) > 300 {
			frame = frame[:300] + "…"
		}
		b.badFrames = append(b.badFrames, frame)
		b.logf("unexpected frame: %s", frame)
	}
}

func (b *bench) openWindow() time.Time {
	now := time.Now()
	b.winStart.Store(now.UnixNano())
	return now
}

func (b *bench) closeWindow() time.Time {
	now := time.Now()
	b.winEnd.Store(now.UnixNano())
	return now
}

func (b *bench) inWindow(t int64) bool { return t >= b.winStart.Load() && t < b.winEnd.Load() }

// missing is how many events the connections have not received yet of what their conversations
// hold (their final seqs).
func missing(conns []*benchConn) int64 {
	var n int64
	for _, c := range conns {
		for _, cc := range c.convs {
			if d := cc.conv.final.Load() - cc.lastSeen.Load(); d > 0 {
				n += d
			}
		}
	}
	return n
}

// waitDelivered waits until every connection has every event, or the drain time is over.
func (b *bench) waitDelivered(ctx context.Context, conns []*benchConn) (int64, time.Duration) {
	start := time.Now()
	deadline := start.Add(b.cfg.drain)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		n := missing(conns)
		if n == 0 || time.Now().After(deadline) {
			return n, time.Since(start)
		}
		select {
		case <-ctx.Done():
			return n, time.Since(start)
		case <-tick.C:
		}
	}
}

// verdict prints the delivery check and returns an error when it failed.
func (b *bench) verdict(conns []*benchConn, lost int64) error {
	r := b.out
	st := &b.stats
	gaps, dups := st.gaps.Load(), st.dups.Load()
	closed := st.serverCloses.Load()
	r.linef("events received", "%d (messages %d, setup events ignored %d)", st.eventFrames.Load(), st.messages.Load(), st.setupEvents.Load())
	r.linef("lost (never received)", "%d", lost)
	r.linef("gaps (seqs skipped, later filled or not)", "%d", gaps)
	r.linef("duplicates / out of order", "%d", dups)
	r.linef("events of unexpected conversations", "%d", st.unexpected.Load())
	r.linef("resync frames", "%d", st.resyncs.Load())
	r.linef("error frames", "%d", st.errorFrames.Load())
	r.linef("undecodable frames", "%d", st.badFrames.Load())
	b.mu.Lock()
	codes := make([]string, 0, len(b.closeCodes))
	for k, n := range b.closeCodes {
		codes = append(codes, fmt.Sprintf("%s: %d", k, n))
	}
	b.mu.Unlock()
	slices.Sort(codes)
	if closed > 0 {
		r.linef("connections closed by the server", "%d (%s)", closed, strings.Join(codes, ", "))
	} else {
		r.line("connections closed by the server", "0")
	}
	var problems []string
	if lost > 0 {
		problems = append(problems, fmt.Sprintf("%d lost", lost))
	}
	if gaps > 0 {
		problems = append(problems, fmt.Sprintf("%d skipped", gaps))
	}
	if dups > 0 {
		problems = append(problems, fmt.Sprintf("%d duplicated or out of order", dups))
	}
	if n := st.unexpected.Load(); n > 0 {
		problems = append(problems, fmt.Sprintf("%d of unexpected conversations", n))
	}
	if n := st.resyncs.Load(); n > 0 {
		problems = append(problems, fmt.Sprintf("%d resyncs", n))
	}
	if len(problems) == 0 {
		r.linef("delivery check", "ok: every connection got every seq once, in order (%d connections)", len(conns))
		return nil
	}
	r.linef("delivery check", "FAILED: %s", strings.Join(problems, ", "))
	return errors.New("delivery check failed: " + strings.Join(problems, ", "))
}

func (b *bench) reportSendErrors() {
	b.mu.Lock()
	defer b.mu.Unlock()
	kinds := make([]string, 0, len(b.sendErrs))
	for k := range b.sendErrs {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	for _, k := range kinds {
		ex := b.sendErrEx[k]
		if len(ex) > 200 {
			ex = ex[:200] + "…"
		}
		b.out.linef("send errors: "+k, "%d (first: %s)", b.sendErrs[k], strings.TrimSpace(ex))
	}
}

// secs formats a histogram bound in seconds as milliseconds.
func secs(s float64) string {
	if math.IsInf(s, 1) {
		return "+Inf"
	}
	return fmt.Sprintf("%g ms", s*1000)
}

// reportServers prints the servers' figures over a window, and the bench's own CPU use (it runs
// on the same machine, so it competes with the servers).
func (b *bench) reportServers(before, after []serverSample, frames int64, selfCPU time.Duration) {
	r := b.out
	var cpu float64
	var dur time.Duration
	for i := range after {
		cpu += after[i].cpuSeconds - before[i].cpuSeconds
		dur = max(dur, after[i].at.Sub(before[i].at))
	}
	prefix := func(i int) string {
		if len(after) == 1 {
			return "server"
		}
		return fmt.Sprintf("server %d", i+1)
	}
	for i := range after {
		d := after[i].cpuSeconds - before[i].cpuSeconds
		r.linef(prefix(i)+" CPU", "%.2f s over %.1f s (%.0f%% of one core)", d, after[i].at.Sub(before[i].at).Seconds(), 100*d/after[i].at.Sub(before[i].at).Seconds())
		r.linef(prefix(i)+" RSS", "%s before, %s after", mib(before[i].rss), mib(after[i].rss))
		r.linef(prefix(i)+" parley_ws_connections", "%.0f", after[i].wsConns)
		r.linef(prefix(i)+" event frames sent", "%.0f", after[i].eventFrames-before[i].eventFrames)
		r.linef(prefix(i)+" frames dropped", "%s", counterDelta(before[i].dropped, after[i].dropped))
		r.linef(prefix(i)+" closes", "%s", counterDelta(before[i].closes, after[i].closes))
		r.linef(prefix(i)+" gap fills", "%s", counterDelta(before[i].gapFills, after[i].gapFills))
		if p50, n := bucketQuantile(before[i].commitToSocket, after[i].commitToSocket, .5); n > 0 {
			p99, _ := bucketQuantile(before[i].commitToSocket, after[i].commitToSocket, .99)
			r.linef(prefix(i)+" commit→socket p50/p99", "≤ %s / ≤ %s (its histogram's bucket bounds, %.0f frames)", secs(p50), secs(p99), n)
		}
	}
	if frames > 0 {
		r.linef("server CPU per delivered frame", "%.2f µs (all servers' CPU / frames received)", cpu*1e6/float64(frames))
	}
	if selfCPU >= 0 && dur > 0 {
		r.linef("bench client CPU", "%.2f s (%.0f%% of one core)", selfCPU.Seconds(), 100*selfCPU.Seconds()/dur.Seconds())
	}
}
