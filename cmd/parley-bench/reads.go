package main

import (
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// measureReads runs --readers goroutines through --warmup and then the measured window. Each
// gets its own random source from newReader and then calls what newReader returned in a loop,
// told whether the request it is about to make starts in the window. After the window the
// readers finish the request they are in and stop; nothing is cut short.
func (b *bench) measureReads(ctx context.Context, newReader func(r *rand.Rand) func(ctx context.Context, inWindow bool)) (sendingWindow, error) {
	var m sendingWindow
	var stop atomic.Bool
	var wg sync.WaitGroup
	for k := range b.cfg.readers {
		read := newReader(rand.New(rand.NewPCG(corpusSeed, uint64(k)+1)))
		wg.Go(func() {
			for !stop.Load() && ctx.Err() == nil {
				read(ctx, b.inWindow(time.Now().UnixNano()))
			}
		})
	}
	defer func() {
		stop.Store(true)
		wg.Wait()
	}()
	if err := sleepCtx(ctx, b.cfg.warmup); err != nil {
		return m, err
	}
	var err error
	if m.before, err = b.scrapeAll(ctx); err != nil {
		return m, err
	}
	self0 := benchSelfCPU()
	start := b.openWindow()
	if err := sleepCtx(ctx, b.cfg.duration); err != nil {
		return m, err
	}
	m.window = b.closeWindow().Sub(start)
	self1 := benchSelfCPU()
	if m.after, err = b.scrapeAll(ctx); err != nil {
		return m, err
	}
	m.self = -1
	if self0 >= 0 {
		m.self = self1 - self0
	}
	return m, nil
}

// serverCPUPer prints the servers' CPU over the window, in all and per request.
func (b *bench) serverCPUPer(m sendingWindow, what string, n int64) {
	var cpu float64
	for i := range m.after {
		cpu += m.after[i].cpuSeconds - m.before[i].cpuSeconds
	}
	b.out.linef("server CPU", "%.2f s over %.1f s (%.0f%% of one core)", cpu, m.window.Seconds(), 100*cpu/m.window.Seconds())
	if n > 0 {
		b.out.linef("server CPU per "+what, "%.2f ms", cpu*1e3/float64(n))
	}
	if m.self >= 0 {
		b.out.linef("bench client CPU", "%.2f s (%.0f%% of one core)", m.self.Seconds(), 100*m.self.Seconds()/m.window.Seconds())
	}
}

// errorTally counts failed requests by kind and keeps the first answer of each kind.
type errorTally struct {
	mu     sync.Mutex
	counts map[string]int64
	first  map[string]string
	total  atomic.Int64
}

func (t *errorTally) add(b *bench, kind, detail string) {
	t.total.Add(1)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.counts == nil {
		t.counts, t.first = map[string]int64{}, map[string]string{}
	}
	if t.counts[kind]++; t.counts[kind] == 1 {
		t.first[kind] = detail
		b.logf("%s: %s", kind, detail)
	}
}

// lines prints a line per kind of failure, label first.
func (t *errorTally) lines(r *report, label string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	kinds := make([]string, 0, len(t.counts))
	for k := range t.counts {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	for _, k := range kinds {
		ex := t.first[k]
		if len(ex) > 200 {
			ex = ex[:200] + "…"
		}
		r.linef(label+": "+k, "%d (first: %s)", t.counts[k], strings.TrimSpace(ex))
	}
}
