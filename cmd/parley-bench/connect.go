package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// connectAll starts conns with bounded handshake concurrency and waits for every handshake. It
// returns the connections that are up; the failures are reported.
func (b *bench) connectAll(ctx context.Context, label string, conns []*benchConn, resume func(*benchConn) map[string]int64) ([]*benchConn, time.Duration) {
	start := time.Now()
	var done atomic.Int64
	stopProgress := b.logProgress(&done, len(conns))
	errs := b.dialAll(ctx, conns, resume, &done)
	stopProgress()
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
	b.logDialErrors(failures)
	b.out.linef(label, "%d of %d up in %.2f s (dial errors %d)", len(up), len(conns), took.Seconds(), len(conns)-len(up))
	return up, took
}

// dialAll runs every connection, at most --dial-concurrency handshakes at a time, and returns
// each handshake's outcome once all are known. done counts the handshakes finished.
func (b *bench) dialAll(ctx context.Context, conns []*benchConn, resume func(*benchConn) map[string]int64, done *atomic.Int64) []error {
	sem := make(chan struct{}, b.cfg.dialConcurrency)
	errs := make([]error, len(conns))
	var wg sync.WaitGroup
	for i, c := range conns {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			errs[i] = ctx.Err()
			continue
		}
		b.open = append(b.open, c)
		wg.Add(1)
		// The connection's reader outlives this call; close() waits for it.
		go c.run(ctx, resume(c), func(err error) {
			errs[i] = err
			done.Add(1)
			<-sem
			wg.Done()
		})
	}
	wg.Wait()
	return errs
}

// logProgress logs how many of total handshakes are done every 2 s until the returned stop is
// called; stop waits for the logger to end.
func (b *bench) logProgress(done *atomic.Int64, total int) (stop func()) {
	return b.every(2*time.Second, func() { b.logf("connected %d/%d", done.Load(), total) })
}

// logDialErrors logs the kinds of handshake failure, with their counts; the first five kinds.
func (b *bench) logDialErrors(failures map[string]int) {
	msgs := make([]string, 0, len(failures))
	for msg, n := range failures {
		msgs = append(msgs, fmt.Sprintf("%d× %s", n, msg))
	}
	slices.Sort(msgs)
	for i, msg := range msgs {
		if i == 5 {
			b.logf("dial error: … %d more kinds", len(msgs)-5)
			return
		}
		b.logf("dial error: %s", msg)
	}
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
