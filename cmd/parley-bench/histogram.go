package main

import (
	"fmt"
	"io"
	"math"
	"sync/atomic"
	"time"
)

// histResolution and histRange define the latency histogram: fixed buckets of 10 µs up to 10 s
// (4 MB), anything longer counted as overflow. Recording is lock-free.
const (
	histResolution = 10 * time.Microsecond
	histRange      = 10 * time.Second
	histBuckets    = int(histRange / histResolution)
)

type histogram struct {
	counts []atomic.Uint32
	over   atomic.Int64
	n      atomic.Int64
	sum    atomic.Int64
	max    atomic.Int64
}

func newHistogram() *histogram { return &histogram{counts: make([]atomic.Uint32, histBuckets)} }

func (h *histogram) record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	if i := int(d / histResolution); i < histBuckets {
		h.counts[i].Add(1)
	} else {
		h.over.Add(1)
	}
	h.n.Add(1)
	h.sum.Add(int64(d))
	for {
		m := h.max.Load()
		if int64(d) <= m || h.max.CompareAndSwap(m, int64(d)) {
			return
		}
	}
}

func (h *histogram) count() int64 { return h.n.Load() }

// quantile returns the upper bound of the bucket holding the q-th sample (never above the max).
func (h *histogram) quantile(q float64) time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	rank := max(int64(math.Ceil(q*float64(n))), 1)
	maxSeen := time.Duration(h.max.Load())
	var cum int64
	for i := range h.counts {
		cum += int64(h.counts[i].Load())
		if cum >= rank {
			return min(time.Duration(i+1)*histResolution, maxSeen)
		}
	}
	return maxSeen
}

func (h *histogram) mean() time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	return time.Duration(h.sum.Load() / n)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

// latencyLines prints p50/p95/p99/max of h under label.
func latencyLines(r *report, label string, h *histogram) {
	if h.count() == 0 {
		r.line(label, "no samples")
		return
	}
	r.line(label+" p50", ms(h.quantile(.50)))
	r.line(label+" p95", ms(h.quantile(.95)))
	r.line(label+" p99", ms(h.quantile(.99)))
	r.line(label+" max", ms(time.Duration(h.max.Load())))
	r.line(label+" mean", ms(h.mean()))
	r.line(label+" samples", fmt.Sprintf("%d", h.count()))
	if over := h.over.Load(); over > 0 {
		r.line(label+" over 10 s", fmt.Sprintf("%d samples", over))
	}
}

// report is the plain text the bench prints: one figure a line, label then value with its unit.
type report struct{ w io.Writer }

func (r *report) line(label, value string) { fmt.Fprintf(r.w, "%-48s %s\n", label, value) }

func (r *report) linef(label, format string, args ...any) {
	r.line(label, fmt.Sprintf(format, args...))
}
