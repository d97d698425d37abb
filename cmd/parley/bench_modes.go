package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

func (b *bench) newConns(n int) []*benchConn {
	conns := make([]*benchConn, n)
	for k := range conns {
		conns[k] = b.newConn(k, false, nil)
	}
	return conns
}

// connectMeasured sets up the conversations, connects --conns and waits until the servers count
// them. pre is the servers' state before connecting.
func (b *bench) connectMeasured(ctx context.Context) (up []*benchConn, pre []serverSample, err error) {
	if err := b.setup(ctx); err != nil {
		return nil, nil, err
	}
	if pre, err = b.scrapeAll(ctx); err != nil {
		return nil, nil, err
	}
	if b.cfg.conns == 0 {
		return nil, pre, nil
	}
	b.logf("connecting %d WebSockets, %d at a time", b.cfg.conns, b.cfg.dialConcurrency)
	up, _ = b.connectAll(ctx, "connections", b.newConns(b.cfg.conns), emptyCursors)
	if len(up) == 0 {
		return nil, nil, errors.New("no connection came up")
	}
	if _, err = b.waitServerConns(ctx, pre, b.perNode(up), 60*time.Second); err != nil {
		return nil, nil, err
	}
	if len(b.cfg.urls) > 1 {
		per := b.perNode(up)
		parts := make([]string, len(per))
		for i, n := range per {
			parts[i] = fmt.Sprintf("server %d: %d", i+1, n)
		}
		b.out.line("connections per server", strings.Join(parts, ", "))
	}
	return up, pre, ctx.Err()
}

func (b *bench) runIdle(ctx context.Context) error {
	up, pre, err := b.connectMeasured(ctx)
	if err != nil {
		return err
	}
	b.logf("servers count the connections; settling for %s", b.cfg.warmup)
	if err := sleepCtx(ctx, b.cfg.warmup); err != nil {
		return err
	}
	settled, err := b.scrapeAll(ctx)
	if err != nil {
		return err
	}
	b.logf("holding %d connections for %s", len(up), b.cfg.duration)
	self0 := benchSelfCPU()
	if err := sleepCtx(ctx, b.cfg.duration); err != nil {
		return err
	}
	held, err := b.scrapeAll(ctx)
	if err != nil {
		return err
	}
	self1 := benchSelfCPU()
	b.closeConns(up)

	r := b.out
	per := b.perNode(up)
	var rssGrowth float64
	for i := range settled {
		name := "server"
		if len(settled) > 1 {
			name = fmt.Sprintf("server %d", i+1)
		}
		n := float64(per[i])
		r.linef(name+" parley_ws_connections", "%.0f (settled), %.0f (end of hold)", settled[i].wsConns, held[i].wsConns)
		r.linef(name+" RSS before connecting", "%s", mib(pre[i].rss))
		r.linef(name+" RSS with connections", "%s (settled), %s (end of hold)", mib(settled[i].rss), mib(held[i].rss))
		if n > 0 {
			r.linef(name+" RSS per idle connection", "%.1f KiB (settled), %.1f KiB (end of hold)",
				(settled[i].rss-pre[i].rss)/n/1024, (held[i].rss-pre[i].rss)/n/1024)
			r.linef(name+" Go heap+stacks per connection", "%.1f KiB (heap %.1f, stacks %.1f)",
				(settled[i].heapInuse+settled[i].stackInuse-pre[i].heapInuse-pre[i].stackInuse)/n/1024,
				(settled[i].heapInuse-pre[i].heapInuse)/n/1024, (settled[i].stackInuse-pre[i].stackInuse)/n/1024)
			r.linef(name+" goroutines per connection", "%.2f", (settled[i].goroutines-pre[i].goroutines)/n)
		}
		r.linef(name+" CPU while holding", "%.2f s over %s", held[i].cpuSeconds-settled[i].cpuSeconds, b.cfg.duration)
		rssGrowth += settled[i].rss - pre[i].rss
	}
	if len(settled) > 1 {
		r.linef("RSS per idle connection (all servers)", "%.1f KiB", rssGrowth/float64(len(up))/1024)
	}
	if self0 >= 0 {
		r.linef("bench client CPU while holding", "%.2f s", (self1 - self0).Seconds())
	}
	return b.verdict(up, 0)
}

func (b *bench) runFanout(ctx context.Context) error {
	up, _, err := b.connectMeasured(ctx)
	if err != nil {
		return err
	}
	members := float64(b.cfg.conns) / float64(b.cfg.convs)
	b.logf("sending %.0f messages/s with %d senders: %s warmup, then %s measured", b.cfg.rate, b.cfg.senders, b.cfg.warmup, b.cfg.duration)
	m, err := b.measureSending(ctx)
	if err != nil {
		return err
	}
	before, after, frames := m.before, m.after, m.frames
	b.logf("window over; waiting up to %s for deliveries on their way", b.cfg.drain)
	if err := b.fetchFinals(ctx); err != nil {
		return err
	}
	lost, drained := b.waitDelivered(ctx, up)

	r := b.out
	window := m.window.Seconds()
	r.linef("target send rate", "%.0f messages/s (%d senders), %.1f members per conversation", b.cfg.rate, b.cfg.senders, members)
	r.linef("window", "%.1f s after %s warmup", window, b.cfg.warmup)
	r.linef("messages sent in window", "%d (%.1f/s), send errors %d", b.stats.windowOK.Load(), float64(b.stats.windowOK.Load())/window, b.stats.windowErr.Load())
	latencyLines(r, "send POST latency", b.post)
	r.linef("deliveries in window", "%d (%.0f/s; expected %.0f/s)", frames, float64(frames)/window, b.cfg.rate*members)
	latencyLines(r, "send→deliver latency", b.latency)
	b.reportServers(before, after, frames, m.self)
	r.linef("drain after window", "%.2f s", drained.Seconds())
	b.reportSendErrors()
	err = b.verdict(up, lost)
	b.closeConns(up)
	return err
}

func (b *bench) runSends(ctx context.Context) error {
	up, _, err := b.connectMeasured(ctx)
	if err != nil {
		return err
	}
	how := "as fast as they go"
	if b.cfg.rate > 0 {
		how = fmt.Sprintf("at %.0f messages/s", b.cfg.rate)
	}
	b.logf("%d senders %s into %d conversations: %s warmup, then %s measured", b.cfg.senders, how, b.cfg.convs, b.cfg.warmup, b.cfg.duration)
	m, err := b.measureSending(ctx)
	if err != nil {
		return err
	}
	before, after, frames := m.before, m.after, m.frames

	r := b.out
	window := m.window.Seconds()
	sent := b.stats.windowOK.Load()
	r.linef("senders", "%d, %s", b.cfg.senders, how)
	r.linef("window", "%.1f s after %s warmup", window, b.cfg.warmup)
	r.linef("durable sends", "%d (%.0f/s), send errors %d", sent, float64(sent)/window, b.stats.windowErr.Load())
	latencyLines(r, "send POST latency", b.post)
	var cpu float64
	for i := range after {
		cpu += after[i].cpuSeconds - before[i].cpuSeconds
	}
	if sent > 0 {
		r.linef("server CPU per send", "%.1f µs", cpu*1e6/float64(sent))
	}
	b.reportServers(before, after, frames, m.self)
	b.reportSendErrors()
	if len(up) == 0 {
		return nil
	}
	if err := b.fetchFinals(ctx); err != nil {
		return err
	}
	lost, _ := b.waitDelivered(ctx, up)
	latencyLines(r, "send→deliver latency", b.latency)
	err = b.verdict(up, lost)
	b.closeConns(up)
	return err
}

func (b *bench) runResume(ctx context.Context) error {
	up, pre, err := b.connectMeasured(ctx)
	if err != nil {
		return err
	}
	if len(up) != b.cfg.conns {
		return fmt.Errorf("only %d of %d connections came up", len(up), b.cfg.conns)
	}
	// What each client records before it goes away: its last seq per conversation.
	cursors := make([]map[*benchConv]int64, len(up))
	for i, c := range up {
		cursors[i] = map[*benchConv]int64{}
		for _, cc := range c.convs {
			cursors[i][cc.conv] = cc.lastSeen.Load()
		}
	}
	b.logf("disconnecting %d clients", len(up))
	b.closeConns(up)
	if _, err := b.waitServerConns(ctx, pre, make([]int, len(b.cfg.urls)), 30*time.Second); err != nil {
		return err
	}

	total := len(b.convs) * b.cfg.missed
	b.logf("sending %d messages into each of %d conversations", b.cfg.missed, len(b.convs))
	err = parallel(ctx, total, b.cfg.senders, func(ctx context.Context, i int) error {
		b.sendOne(ctx, int64(i))
		return nil
	})
	if err != nil {
		return err
	}
	if err := b.fetchFinals(ctx); err != nil {
		return err
	}
	if err := b.waitOutbox(ctx); err != nil {
		return err
	}

	again := make([]*benchConn, len(up))
	for i, c := range up {
		again[i] = b.newConn(c.user, true, cursors[i])
	}
	before, err := b.scrapeAll(ctx)
	if err != nil {
		return err
	}
	self0 := benchSelfCPU()
	b.logf("reconnecting %d clients at once with their cursors", len(again))
	start := time.Now()
	reup, _ := b.connectAll(ctx, "reconnections", again, (*benchConn).cursors)
	self1 := benchSelfCPU()
	after, err := b.scrapeAll(ctx)
	if err != nil {
		return err
	}
	// Nothing is sent any more: whatever arrives now is a duplicate.
	if err := sleepCtx(ctx, 500*time.Millisecond); err != nil {
		return err
	}

	r := b.out
	var times, toReady, readyToResumed []time.Duration
	var last time.Time
	var replayed, expected int64
	var wrongReplay, wrongCursor, afterResumed int
	for _, c := range reup {
		times = append(times, c.resumedAt.Sub(start))
		toReady = append(toReady, c.readyAt.Sub(start))
		readyToResumed = append(readyToResumed, c.resumedAt.Sub(c.readyAt))
		if c.resumedAt.After(last) {
			last = c.resumedAt
		}
		var want int64
		for id, cc := range c.convs {
			want += cc.conv.final.Load() - cc.base
			if c.resumedCursors[id] != cc.conv.final.Load() {
				wrongCursor++
			}
		}
		replayed += int64(c.eventsBeforeReady)
		expected += want
		if int64(c.eventsBeforeReady) != want {
			wrongReplay++
		}
		if n := c.events.Load() + c.dups.Load() - int64(c.eventsBeforeReady); n > 0 {
			afterResumed += int(n)
		}
	}
	slices.Sort(times)
	slices.Sort(toReady)
	slices.Sort(readyToResumed)
	sentOK := b.stats.sentOK.Load()
	r.linef("missed messages sent", "%d (%d per conversation), send errors %d", sentOK, b.cfg.missed, b.stats.sentErr.Load())
	if len(times) > 0 {
		r.linef("resume total (first reconnect → last resumed)", "%s for %d clients", ms(last.Sub(start)), len(reup))
		r.linef("time to resumed, per client p50", "%s", ms(times[len(times)/2]))
		r.linef("time to resumed, per client p99", "%s", ms(times[min(len(times)-1, len(times)*99/100)]))
		r.linef("time to resumed, first", "%s", ms(times[0]))
		r.linef("dial to ready frame, per client p50/max", "%s / %s", ms(toReady[len(toReady)/2]), ms(toReady[len(toReady)-1]))
		r.linef("ready to resumed, per client p50/max", "%s / %s", ms(readyToResumed[len(readyToResumed)/2]), ms(readyToResumed[len(readyToResumed)-1]))
	}
	r.linef("events replayed", "%d (expected %d)", replayed, expected)
	r.linef("clients whose replay was not exactly what they missed", "%d", wrongReplay)
	r.linef("clients whose resumed cursors were wrong", "%d", wrongCursor)
	r.linef("events after resumed (duplicates)", "%d", afterResumed)
	self := time.Duration(-1)
	if self0 >= 0 {
		self = self1 - self0
	}
	b.reportServers(before, after, replayed, self)
	b.reportSendErrors()
	err = b.verdict(reup, missing(reup))
	b.closeConns(reup)
	var problems []string
	if len(reup) != len(again) {
		problems = append(problems, fmt.Sprintf("%d clients could not reconnect", len(again)-len(reup)))
	}
	if wrongReplay > 0 {
		problems = append(problems, fmt.Sprintf("%d clients replayed the wrong events", wrongReplay))
	}
	if wrongCursor > 0 {
		problems = append(problems, fmt.Sprintf("%d resumed frames with wrong cursors", wrongCursor))
	}
	if afterResumed > 0 {
		problems = append(problems, fmt.Sprintf("%d events after resumed", afterResumed))
	}
	if len(problems) > 0 {
		return errors.Join(err, errors.New("resume check failed: "+strings.Join(problems, ", ")))
	}
	return err
}

// sendingWindow is what one measured window of sending gives: the servers' figures around it,
// the event frames received in it, its length and the bench's own CPU in it (-1 if unknown).
type sendingWindow struct {
	before, after []serverSample
	frames        int64
	window        time.Duration
	self          time.Duration
}

// measureSending runs the senders through the warmup and the measured window, then stops them.
func (b *bench) measureSending(ctx context.Context) (sendingWindow, error) {
	var m sendingWindow
	stop := b.startSenders(ctx, b.cfg.senders, b.cfg.rate, 0)
	defer stop()
	if err := sleepCtx(ctx, b.cfg.warmup); err != nil {
		return m, err
	}
	var err error
	if m.before, err = b.scrapeAll(ctx); err != nil {
		return m, err
	}
	frames0, self0 := b.stats.eventFrames.Load(), benchSelfCPU()
	start := b.openWindow()
	if err := sleepCtx(ctx, b.cfg.duration); err != nil {
		return m, err
	}
	m.window = b.closeWindow().Sub(start)
	frames1, self1 := b.stats.eventFrames.Load(), benchSelfCPU()
	if m.after, err = b.scrapeAll(ctx); err != nil {
		return m, err
	}
	m.frames, m.self = frames1-frames0, -1
	if self0 >= 0 {
		m.self = self1 - self0
	}
	return m, nil
}
