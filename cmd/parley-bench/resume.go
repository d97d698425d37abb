package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

func (b *bench) runResume(ctx context.Context) error {
	up, pre, err := b.connectMeasured(ctx)
	if err != nil {
		return err
	}
	if len(up) != b.cfg.conns {
		return fmt.Errorf("only %d of %d connections came up", len(up), b.cfg.conns)
	}
	cursors := recordCursors(up)
	if err := b.disconnectAndMiss(ctx, up, pre); err != nil {
		return err
	}
	again := make([]*benchConn, len(up))
	for i, c := range up {
		again[i] = b.newConn(c.user, true, cursors[i])
	}
	rc, err := b.reconnect(ctx, again)
	if err != nil {
		return err
	}
	fig := measureResume(rc.up, rc.start)
	b.reportResume(rc, fig)
	err = b.verdict(rc.up, missing(rc.up))
	b.closeConns(rc.up)
	if problems := fig.problems(len(again) - len(rc.up)); len(problems) > 0 {
		return errors.Join(err, errors.New("resume check failed: "+strings.Join(problems, ", ")))
	}
	return err
}

// recordCursors is what each client records before it goes away: its last seq per conversation.
func recordCursors(conns []*benchConn) []map[*benchConv]int64 {
	cursors := make([]map[*benchConv]int64, len(conns))
	for i, c := range conns {
		cursors[i] = map[*benchConv]int64{}
		for _, cc := range c.convs {
			cursors[i][cc.conv] = cc.lastSeen.Load()
		}
	}
	return cursors
}

// disconnectAndMiss closes the connections, waits until the servers count them gone, then sends
// --missed messages into every conversation and waits until the outbox has published them.
func (b *bench) disconnectAndMiss(ctx context.Context, up []*benchConn, pre []serverSample) error {
	b.logf("disconnecting %d clients", len(up))
	b.closeConns(up)
	if _, err := b.waitServerConns(ctx, pre, make([]int, len(b.cfg.urls)), 30*time.Second); err != nil {
		return err
	}
	total := len(b.convs) * b.cfg.missed
	b.logf("sending %d messages into each of %d conversations", b.cfg.missed, len(b.convs))
	err := parallel(ctx, total, b.cfg.senders, func(ctx context.Context, i int) error {
		b.sendOne(ctx, int64(i))
		return nil
	})
	if err != nil {
		return err
	}
	if err := b.fetchFinals(ctx); err != nil {
		return err
	}
	return b.waitOutbox(ctx)
}

// reconnection is one burst of resuming clients: when it started, who came back, the servers'
// figures around it and the bench's own CPU in it (-1 if unknown).
type reconnection struct {
	start         time.Time
	up            []*benchConn
	before, after []serverSample
	self          time.Duration
}

// reconnect connects every client at once with its cursors and waits a little, so that anything
// arriving after resumed is seen.
func (b *bench) reconnect(ctx context.Context, again []*benchConn) (reconnection, error) {
	var rc reconnection
	var err error
	if rc.before, err = b.scrapeAll(ctx); err != nil {
		return rc, err
	}
	self0 := benchSelfCPU()
	b.logf("reconnecting %d clients at once with their cursors", len(again))
	rc.start = time.Now()
	rc.up, _ = b.connectAll(ctx, "reconnections", again, (*benchConn).cursors)
	self1 := benchSelfCPU()
	if rc.after, err = b.scrapeAll(ctx); err != nil {
		return rc, err
	}
	rc.self = -1
	if self0 >= 0 {
		rc.self = self1 - self0
	}
	// Nothing is sent any more: whatever arrives now is a duplicate.
	return rc, sleepCtx(ctx, 500*time.Millisecond)
}

// resumeFigures are what the resumed clients saw: per-client times (sorted), the last resumed
// frame, and how many replays, cursors and later events were not what they should have been.
type resumeFigures struct {
	times, toReady, readyToResumed         []time.Duration
	last                                   time.Time
	replayed, expected                     int64
	wrongReplay, wrongCursor, afterResumed int
}

func measureResume(reup []*benchConn, start time.Time) resumeFigures {
	var f resumeFigures
	for _, c := range reup {
		f.times = append(f.times, c.resumedAt.Sub(start))
		f.toReady = append(f.toReady, c.readyAt.Sub(start))
		f.readyToResumed = append(f.readyToResumed, c.resumedAt.Sub(c.readyAt))
		if c.resumedAt.After(f.last) {
			f.last = c.resumedAt
		}
		var want int64
		for id, cc := range c.convs {
			want += cc.conv.final.Load() - cc.base
			if c.resumedCursors[id] != cc.conv.final.Load() {
				f.wrongCursor++
			}
		}
		f.replayed += int64(c.eventsBeforeReady)
		f.expected += want
		if int64(c.eventsBeforeReady) != want {
			f.wrongReplay++
		}
		if n := c.events.Load() + c.dups.Load() - int64(c.eventsBeforeReady); n > 0 {
			f.afterResumed += int(n)
		}
	}
	slices.Sort(f.times)
	slices.Sort(f.toReady)
	slices.Sort(f.readyToResumed)
	return f
}

func (b *bench) reportResume(rc reconnection, f resumeFigures) {
	r := b.out
	r.linef("missed messages sent", "%d (%d per conversation), send errors %d", b.stats.sentOK.Load(), b.cfg.missed, b.stats.sentErr.Load())
	if n := len(f.times); n > 0 {
		r.linef("resume total (first reconnect → last resumed)", "%s for %d clients", ms(f.last.Sub(rc.start)), len(rc.up))
		r.linef("time to resumed, per client p50", "%s", ms(f.times[n/2]))
		r.linef("time to resumed, per client p99", "%s", ms(f.times[min(n-1, n*99/100)]))
		r.linef("time to resumed, first", "%s", ms(f.times[0]))
		r.linef("dial to ready frame, per client p50/max", "%s / %s", ms(f.toReady[n/2]), ms(f.toReady[n-1]))
		r.linef("ready to resumed, per client p50/max", "%s / %s", ms(f.readyToResumed[n/2]), ms(f.readyToResumed[n-1]))
	}
	r.linef("events replayed", "%d (expected %d)", f.replayed, f.expected)
	r.linef("clients whose replay was not exactly what they missed", "%d", f.wrongReplay)
	r.linef("clients whose resumed cursors were wrong", "%d", f.wrongCursor)
	r.linef("events after resumed (duplicates)", "%d", f.afterResumed)
	b.reportServers(rc.before, rc.after, f.replayed, rc.self)
	b.reportSendErrors()
}

// problems names every way the resume broke its guarantee; notBack clients could not reconnect.
func (f resumeFigures) problems(notBack int) []string {
	var problems []string
	if notBack > 0 {
		problems = append(problems, fmt.Sprintf("%d clients could not reconnect", notBack))
	}
	if f.wrongReplay > 0 {
		problems = append(problems, fmt.Sprintf("%d clients replayed the wrong events", f.wrongReplay))
	}
	if f.wrongCursor > 0 {
		problems = append(problems, fmt.Sprintf("%d resumed frames with wrong cursors", f.wrongCursor))
	}
	if f.afterResumed > 0 {
		problems = append(problems, fmt.Sprintf("%d events after resumed", f.afterResumed))
	}
	return problems
}
