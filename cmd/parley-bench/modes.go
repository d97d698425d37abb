package main

import (
	"context"
	"errors"
	"fmt"
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

// idleSamples are the servers' figures around an idle hold: before connecting, once the
// connections settled, and at the end of the hold; self is the bench's own CPU while holding.
type idleSamples struct {
	pre, settled, held []serverSample
	self               time.Duration
}

func (b *bench) runIdle(ctx context.Context) error {
	up, pre, err := b.connectMeasured(ctx)
	if err != nil {
		return err
	}
	s := idleSamples{pre: pre}
	b.logf("servers count the connections; settling for %s", b.cfg.warmup)
	if err := sleepCtx(ctx, b.cfg.warmup); err != nil {
		return err
	}
	if s.settled, err = b.scrapeAll(ctx); err != nil {
		return err
	}
	b.logf("holding %d connections for %s", len(up), b.cfg.duration)
	self0 := benchSelfCPU()
	if err := sleepCtx(ctx, b.cfg.duration); err != nil {
		return err
	}
	if s.held, err = b.scrapeAll(ctx); err != nil {
		return err
	}
	s.self = -1
	if self0 >= 0 {
		s.self = benchSelfCPU() - self0
	}
	b.closeConns(up)
	b.reportIdle(s, b.perNode(up), len(up))
	return b.verdict(up, 0)
}

// reportIdle prints what the idle connections cost each server: per[i] is how many server i held.
func (b *bench) reportIdle(s idleSamples, per []int, conns int) {
	r := b.out
	var rssGrowth float64
	for i, settled := range s.settled {
		pre, held := s.pre[i], s.held[i]
		name := "server"
		if len(s.settled) > 1 {
			name = fmt.Sprintf("server %d", i+1)
		}
		n := float64(per[i])
		r.linef(name+" parley_ws_connections", "%.0f (settled), %.0f (end of hold)", settled.wsConns, held.wsConns)
		r.linef(name+" RSS before connecting", "%s", mib(pre.rss))
		r.linef(name+" RSS with connections", "%s (settled), %s (end of hold)", mib(settled.rss), mib(held.rss))
		if n > 0 {
			r.linef(name+" RSS per idle connection", "%.1f KiB (settled), %.1f KiB (end of hold)",
				(settled.rss-pre.rss)/n/1024, (held.rss-pre.rss)/n/1024)
			r.linef(name+" Go heap+stacks per connection", "%.1f KiB (heap %.1f, stacks %.1f)",
				(settled.heapInuse+settled.stackInuse-pre.heapInuse-pre.stackInuse)/n/1024,
				(settled.heapInuse-pre.heapInuse)/n/1024, (settled.stackInuse-pre.stackInuse)/n/1024)
			r.linef(name+" goroutines per connection", "%.2f", (settled.goroutines-pre.goroutines)/n)
		}
		r.linef(name+" CPU while holding", "%.2f s over %s", held.cpuSeconds-settled.cpuSeconds, b.cfg.duration)
		rssGrowth += settled.rss - pre.rss
	}
	if len(s.settled) > 1 {
		r.linef("RSS per idle connection (all servers)", "%.1f KiB", rssGrowth/float64(conns)/1024)
	}
	if s.self >= 0 {
		r.linef("bench client CPU while holding", "%.2f s", s.self.Seconds())
	}
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
