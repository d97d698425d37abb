package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// serverSample is what the bench reads from one server's /metrics.
type serverSample struct {
	at          time.Time
	cpuSeconds  float64 // process_cpu_seconds_total
	rss         float64 // process_resident_memory_bytes
	wsConns     float64 // parley_ws_connections
	heapInuse   float64 // go_memstats_heap_inuse_bytes
	stackInuse  float64 // go_memstats_stack_inuse_bytes
	goroutines  float64 // go_goroutines
	openFDs     float64 // process_open_fds (absent on platforms without /proc)
	eventFrames float64 // parley_ws_frames_sent_total{kind="event"}
	backlog     float64 // parley_outbox_backlog
	hasBacklog  bool
	dropped     map[string]float64 // parley_ws_frames_dropped_total by reason
	closes      map[string]float64 // parley_ws_closes_total by reason
	gapFills    map[string]float64 // parley_gap_fills_total by where
	// commitToSocket is parley_commit_to_socket_seconds: cumulative counts by upper bound.
	commitToSocket []histBucket
	// counters holds the perFrameCounters the server exposes, by metric name.
	counters map[string]float64
}

// perFrameCounters are the server counters reported per delivered frame. A figure uses the first
// of its names that a server exposes in both samples: the runtime/metrics name before the
// go_memstats one (which also counts tiny allocations), for older or newer client_golang setups.
var perFrameCounters = []struct {
	label  string
	names  []string
	format string
}{
	{"server socket writes per delivered frame", []string{"parley_ws_socket_writes_total"}, "%.2f"},
	{"server writer wake-ups per delivered frame", []string{"parley_ws_writer_wakeups_total"}, "%.2f"},
	{"server allocations per delivered frame", []string{"go_gc_heap_allocs_objects_total", "go_memstats_mallocs_total"}, "%.1f"},
	{"server bytes allocated per delivered frame", []string{"go_gc_heap_allocs_bytes_total", "go_memstats_alloc_bytes_total"}, "%.0f B"},
}

// perFrameFigures gives each perFrameCounters figure between two samples of every server: the
// counters' growth summed over the servers, divided by the event frames received in the window;
// "n/a" when a server does not expose the counter (an older server).
func perFrameFigures(before, after []serverSample, frames int64) [][2]string {
	var out [][2]string
	for _, c := range perFrameCounters {
		var total float64
		var used []string
		for i := range after {
			name := ""
			for _, n := range c.names {
				_, inBefore := before[i].counters[n]
				if _, inAfter := after[i].counters[n]; inBefore && inAfter {
					name = n
					break
				}
			}
			if name == "" {
				used = nil
				break
			}
			total += after[i].counters[name] - before[i].counters[name]
			if !slices.Contains(used, name) {
				used = append(used, name)
			}
		}
		value := "n/a"
		if len(used) > 0 {
			value = fmt.Sprintf(c.format, total/float64(frames))
			if len(c.names) > 1 {
				value += " (" + strings.Join(used, ", ") + ")"
			}
		}
		out = append(out, [2]string{c.label, value})
	}
	return out
}

type histBucket struct{ le, count float64 }

// bucketQuantile estimates the q-quantile of what a Prometheus histogram observed between two
// samples: the upper bound of the bucket that holds it (+Inf beyond the last bound).
func bucketQuantile(before, after []histBucket, q float64) (float64, float64) {
	if len(after) == 0 {
		return math.NaN(), 0
	}
	delta := make([]float64, len(after))
	for i, b := range after {
		delta[i] = b.count
		if i < len(before) && before[i].le == b.le {
			delta[i] -= before[i].count
		}
	}
	total := delta[len(delta)-1]
	if total <= 0 {
		return math.NaN(), 0
	}
	for i, c := range delta {
		if c >= q*total {
			return after[i].le, total
		}
	}
	return math.Inf(1), total
}

func scrapeMetrics(ctx context.Context, client *http.Client, baseURL string) (serverSample, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+"/metrics", nil)
	if err != nil {
		return serverSample{}, err
	}
	req.Header.Set("Accept", "text/plain; version=0.0.4")
	resp, err := client.Do(req)
	if err != nil {
		return serverSample{}, fmt.Errorf("GET %s/metrics: %w", baseURL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return serverSample{}, fmt.Errorf("GET %s/metrics: HTTP %d", baseURL, resp.StatusCode)
	}
	return parseMetrics(resp.Body)
}

func parseMetrics(r io.Reader) (serverSample, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(r)
	if err != nil {
		return serverSample{}, fmt.Errorf("parse /metrics: %w", err)
	}
	// sum adds the values of a family's series whose labels include want (nil: all series).
	sum := func(name string, want map[string]string) (float64, bool) {
		mf := families[name]
		if mf == nil {
			return 0, false
		}
		var total float64
		found := false
	series:
		for _, m := range mf.GetMetric() {
			for k, v := range want {
				match := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == k && lp.GetValue() == v {
						match = true
					}
				}
				if !match {
					continue series
				}
			}
			total += m.GetCounter().GetValue() + m.GetGauge().GetValue() + m.GetUntyped().GetValue()
			found = true
		}
		return total, found
	}
	byLabel := func(name, label string) map[string]float64 {
		out := map[string]float64{}
		if mf := families[name]; mf != nil {
			for _, m := range mf.GetMetric() {
				for _, lp := range m.GetLabel() {
					if lp.GetName() == label {
						out[lp.GetValue()] += m.GetCounter().GetValue() + m.GetGauge().GetValue()
					}
				}
			}
		}
		return out
	}
	s := serverSample{at: time.Now()}
	s.cpuSeconds, _ = sum("process_cpu_seconds_total", nil)
	s.rss, _ = sum("process_resident_memory_bytes", nil)
	s.wsConns, _ = sum("parley_ws_connections", nil)
	s.heapInuse, _ = sum("go_memstats_heap_inuse_bytes", nil)
	s.stackInuse, _ = sum("go_memstats_stack_inuse_bytes", nil)
	s.goroutines, _ = sum("go_goroutines", nil)
	s.openFDs, _ = sum("process_open_fds", nil)
	s.eventFrames, _ = sum("parley_ws_frames_sent_total", map[string]string{"kind": "event"})
	s.backlog, s.hasBacklog = sum("parley_outbox_backlog", nil)
	s.dropped = byLabel("parley_ws_frames_dropped_total", "reason")
	s.closes = byLabel("parley_ws_closes_total", "reason")
	s.gapFills = byLabel("parley_gap_fills_total", "where")
	s.counters = map[string]float64{}
	for _, c := range perFrameCounters {
		for _, n := range c.names {
			if v, ok := sum(n, nil); ok {
				s.counters[n] = v
			}
		}
	}
	if mf := families["parley_commit_to_socket_seconds"]; mf != nil && len(mf.GetMetric()) > 0 {
		h := mf.GetMetric()[0].GetHistogram()
		for _, b := range h.GetBucket() {
			s.commitToSocket = append(s.commitToSocket, histBucket{b.GetUpperBound(), float64(b.GetCumulativeCount())})
		}
		if n := len(s.commitToSocket); n == 0 || !math.IsInf(s.commitToSocket[n-1].le, 1) {
			s.commitToSocket = append(s.commitToSocket, histBucket{math.Inf(1), float64(h.GetSampleCount())})
		}
	}
	return s, nil
}

func mib(bytes float64) string { return fmt.Sprintf("%.1f MiB", bytes/(1<<20)) }

// counterDelta formats the labels of a counter family whose value grew between two samples.
func counterDelta(before, after map[string]float64) string {
	var parts []string
	for k, v := range after {
		if d := v - before[k]; d > 0 {
			parts = append(parts, fmt.Sprintf("%s %.0f", k, d))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}
