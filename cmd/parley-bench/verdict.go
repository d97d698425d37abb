package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

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
	b.deliveryLines(lost)
	problems := b.deliveryProblems(lost)
	if len(problems) == 0 {
		b.out.linef("delivery check", "ok: every connection got every seq once, in order (%d connections)", len(conns))
		return nil
	}
	b.out.linef("delivery check", "FAILED: %s", strings.Join(problems, ", "))
	return errors.New("delivery check failed: " + strings.Join(problems, ", "))
}

// deliveryLines prints what the connections received, and how the servers closed them.
func (b *bench) deliveryLines(lost int64) {
	r, st := b.out, &b.stats
	r.linef("events received", "%d (messages %d, setup events ignored %d)", st.eventFrames.Load(), st.messages.Load(), st.setupEvents.Load())
	r.linef("lost (never received)", "%d", lost)
	r.linef("gaps (seqs skipped, later filled or not)", "%d", st.gaps.Load())
	r.linef("duplicates / out of order", "%d", st.dups.Load())
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
	if closed := st.serverCloses.Load(); closed > 0 {
		r.linef("connections closed by the server", "%d (%s)", closed, strings.Join(codes, ", "))
	} else {
		r.line("connections closed by the server", "0")
	}
}

// deliveryProblems names every way delivery broke its guarantee; none means it held.
func (b *bench) deliveryProblems(lost int64) []string {
	st := &b.stats
	var problems []string
	for _, p := range []struct {
		n    int64
		what string
	}{
		{lost, "lost"},
		{st.gaps.Load(), "skipped"},
		{st.dups.Load(), "duplicated or out of order"},
		{st.unexpected.Load(), "of unexpected conversations"},
		{st.resyncs.Load(), "resyncs"},
	} {
		if p.n > 0 {
			problems = append(problems, fmt.Sprintf("%d %s", p.n, p.what))
		}
	}
	return problems
}

func (b *bench) reportSendErrors() { b.sendErrs.lines(b.out, "send errors") }

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
		for _, f := range perFrameFigures(before, after, frames) {
			r.line(f[0], f[1])
		}
	}
	if selfCPU >= 0 && dur > 0 {
		r.linef("bench client CPU", "%.2f s (%.0f%% of one core)", selfCPU.Seconds(), 100*selfCPU.Seconds()/dur.Seconds())
	}
}
