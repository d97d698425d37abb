package main

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// How far the last soak sample may be from the first after the warm-up and still count as flat.
// RSS moves with GC cycles and with memory the runtime has not yet returned to the OS;
// goroutines and fds with the requests in flight at the moment of a scrape; the backlog with the
// sends that arrive between two dispatcher wake-ups.
const (
	soakRSSRatio       = 0.20
	soakRSSSlack       = 16 << 20
	soakCountRatio     = 0.05
	soakCountSlack     = 32
	soakBacklogSlack   = 100
	soakBacklogSeconds = 1.0 // seconds of sends the backlog may hold beyond the first sample
)

// runSoak holds the connections under a steady send rate and samples the servers' /metrics every
// --interval, so that a leak shows as growth while the load stays the same.
func (b *bench) runSoak(ctx context.Context) error {
	up, _, err := b.connectMeasured(ctx)
	if err != nil {
		return err
	}
	cfg, r := b.cfg, b.out
	r.linef("soak", "%d connections, %d conversations, %.0f messages/s (%d senders)", len(up), cfg.convs, cfg.rate, cfg.senders)
	r.linef("soak length", "%s warm-up, then %s, a sample every %s", cfg.warmup, cfg.duration, cfg.interval)
	b.logf("soaking: %s warm-up, then %s", cfg.warmup, cfg.duration)
	fmt.Fprintln(r.w)
	fmt.Fprintln(r.w, soakHeader(len(cfg.urls) > 1))

	start := time.Now()
	first, last, frames, err := b.soakSamples(ctx, start)
	if err != nil {
		return err
	}
	b.logf("senders stopped; waiting up to %s for deliveries on their way", cfg.drain)
	if err := b.fetchFinals(ctx); err != nil {
		return err
	}
	lost, drained := b.waitDelivered(ctx, up)
	after, err := b.scrapeAll(ctx)
	if err != nil {
		return err
	}
	b.soakRows(after, time.Since(start), "drained")
	fmt.Fprintln(r.w)

	growth := b.reportSoak(first, last, after, frames, start, drained)
	b.reportSendErrors()
	err = b.verdict(up, lost)
	if len(growth) == 0 {
		r.line("verdict", "flat")
	} else {
		r.linef("verdict", "growing: %s", strings.Join(growth, "; "))
	}
	b.closeConns(up)
	return err
}

// soakSamples runs the senders through the warm-up and the measured span, printing a row per
// server every --interval, and returns the first sample after the warm-up, the last, and the
// event frames received between them. The senders have stopped when it returns.
func (b *bench) soakSamples(ctx context.Context, start time.Time) (first, last []serverSample, frames int64, err error) {
	cfg := b.cfg
	stop := b.startSenders(ctx, cfg.senders, cfg.rate, 0)
	defer stop()
	tick := time.NewTicker(cfg.interval)
	defer tick.Stop()
	for n := 0; last == nil; n++ {
		if n > 0 {
			select {
			case <-ctx.Done():
				return nil, nil, 0, ctx.Err()
			case <-tick.C:
			}
		}
		samples, err := b.scrapeAll(ctx)
		if err != nil {
			return nil, nil, 0, fmt.Errorf("soak sample at %s: %w", time.Since(start).Round(time.Second), err)
		}
		measured, final := soakPhase(n, cfg.interval, cfg.warmup, cfg.duration)
		note := ""
		switch {
		case !measured:
			note = "warm-up"
		case first == nil:
			first, note = samples, "first"
			frames = -b.stats.eventFrames.Load()
			b.openWindow()
		}
		if final {
			last, note = samples, "last"
			frames += b.stats.eventFrames.Load()
			b.closeWindow()
		}
		b.soakRows(samples, time.Since(start), note)
	}
	return first, last, frames, nil
}

// reportSoak prints the run's totals and each server's first and last figures, and returns how
// they grew beyond the bounds above (none: flat).
func (b *bench) reportSoak(first, last, after []serverSample, frames int64, start time.Time, drained time.Duration) []string {
	cfg, r, st := b.cfg, b.out, &b.stats
	multi := len(cfg.urls) > 1
	window := last[0].at.Sub(first[0].at).Seconds()
	r.linef("window (first → last sample)", "%.0f s after %s warm-up", window, cfg.warmup)
	r.linef("messages sent", "%d (%.1f/s over the run), send errors %d", st.sentOK.Load(), float64(st.sentOK.Load())/time.Since(start).Seconds(), st.sentErr.Load())
	r.linef("deliveries", "%d message events received", st.messages.Load())
	latencyLines(r, "send→deliver latency (window)", b.latency)
	r.linef("drain after senders stopped", "%.2f s", drained.Seconds())
	var growth []string
	for i := range first {
		f, l := first[i], last[i]
		prefix := "server"
		if multi {
			prefix = fmt.Sprintf("server %d", i+1)
		}
		r.linef(prefix+" RSS first → last", "%s → %s (%+.1f%%)", mib(f.rss), mib(l.rss), 100*(l.rss-f.rss)/max(f.rss, 1))
		r.linef(prefix+" goroutines first → last", "%.0f → %.0f (%+.0f)", f.goroutines, l.goroutines, l.goroutines-f.goroutines)
		r.linef(prefix+" open fds first → last", "%.0f → %.0f (%+.0f)", f.openFDs, l.openFDs, l.openFDs-f.openFDs)
		r.linef(prefix+" outbox backlog first → last", "%s → %s (after drain %s)", backlogText(f), backlogText(l), backlogText(after[i]))
		for _, g := range soakGrowth(f, l, cfg.rate) {
			if multi {
				g = prefix + ": " + g
			}
			growth = append(growth, g)
		}
	}
	if frames > 0 {
		r.linef("events received first → last", "%d", frames)
		for _, f := range perFrameFigures(first, last, frames) {
			r.line(f[0], f[1])
		}
	}
	return growth
}

// soakPhase says where sample n falls (n from 0, as the senders start, then one every interval):
// after the warm-up (measured), and whether it is the last, the first at or after warm-up +
// duration. As the duration is at least one interval, the first measured sample is never the last.
func soakPhase(n int, interval, warmup, duration time.Duration) (measured, final bool) {
	at := time.Duration(n) * interval
	return at >= warmup, at >= warmup+duration
}

func (b *bench) soakRows(samples []serverSample, elapsed time.Duration, note string) {
	st := &b.stats
	sent, errs, delivered := st.sentOK.Load(), st.sentErr.Load(), st.messages.Load()
	for i, s := range samples {
		server := ""
		if len(samples) > 1 {
			server = fmt.Sprintf("server %d", i+1)
		}
		fmt.Fprintln(b.out.w, soakRow(server, elapsed, s, sent, errs, delivered, note))
	}
}

const soakRowFormat = "%s%9s %9s %11s %6s %8s %10s %7s %11s  %s"

// soakHeader is the table's header; with several servers each row starts with which one.
func soakHeader(multi bool) string {
	server := ""
	if multi {
		server = fmt.Sprintf("%-9s", "server")
	}
	return strings.TrimRight(fmt.Sprintf(soakRowFormat, server, "elapsed", "RSS MiB", "goroutines", "fds", "backlog", "sent", "errors", "delivered", ""), " ")
}

// soakRow is one line of the table: a server's figures and the bench's counts so far.
func soakRow(server string, elapsed time.Duration, s serverSample, sent, errs, delivered int64, note string) string {
	if server != "" {
		server = fmt.Sprintf("%-9s", server)
	}
	return strings.TrimRight(fmt.Sprintf(soakRowFormat, server,
		elapsed.Round(time.Second), fmt.Sprintf("%.1f", s.rss/(1<<20)), fmt.Sprintf("%.0f", s.goroutines),
		fmt.Sprintf("%.0f", s.openFDs), backlogText(s), fmt.Sprint(sent), fmt.Sprint(errs), fmt.Sprint(delivered), note), " ")
}

// backlogText is the outbox backlog, or "-" when the server did not report it (its PostgreSQL was
// unreachable at the scrape).
func backlogText(s serverSample) string {
	if !s.hasBacklog {
		return "-"
	}
	return fmt.Sprintf("%.0f", s.backlog)
}

// soakGrowth compares the last sample with the first after the warm-up and describes each figure
// that grew beyond the bounds above; none means flat.
func soakGrowth(first, last serverSample, rate float64) []string {
	var out []string
	if limit := first.rss*(1+soakRSSRatio) + soakRSSSlack; last.rss > limit {
		out = append(out, fmt.Sprintf("RSS %s → %s (flat up to %s)", mib(first.rss), mib(last.rss), mib(limit)))
	}
	counts := []struct {
		name        string
		first, last float64
	}{{"goroutines", first.goroutines, last.goroutines}, {"open fds", first.openFDs, last.openFDs}}
	for _, c := range counts {
		if limit := c.first + max(soakCountSlack, c.first*soakCountRatio); c.last > limit {
			out = append(out, fmt.Sprintf("%s %.0f → %.0f (flat up to %.0f)", c.name, c.first, c.last, limit))
		}
	}
	if first.hasBacklog && last.hasBacklog {
		if limit := first.backlog + max(soakBacklogSlack, rate*soakBacklogSeconds); last.backlog > limit {
			out = append(out, fmt.Sprintf("outbox backlog %.0f → %.0f (flat up to %.0f)", first.backlog, last.backlog, limit))
		}
	}
	return out
}
