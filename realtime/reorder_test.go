package realtime

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// del is a delivery carrying only what the reorder buffer looks at.
func del(seq int64) delivery { return delivery{env: Envelope{Seq: seq}} }

func dels(seqs ...int64) []delivery {
	out := make([]delivery, len(seqs))
	for i, s := range seqs {
		out[i] = del(s)
	}
	return out
}

func seqsOf(ds []delivery) []int64 {
	var out []int64
	for _, d := range ds {
		out = append(out, d.env.Seq)
	}
	return out
}

// requireOnce fails when a seq was handed on twice.
func requireOnce(t *testing.T, handed []int64) {
	t.Helper()
	seen := make(map[int64]int)
	for _, s := range handed {
		seen[s]++
	}
	for s, n := range seen {
		require.Equalf(t, 1, n, "seq %d handed on %d times (all handed on: %v)", s, n, handed)
	}
}

func TestReorderOffer(t *testing.T) {
	t.Parallel()

	type step struct {
		seq       int64
		ready     []int64
		duplicate bool
	}
	tests := []struct {
		name  string
		steps []step
		held  int
	}{
		{
			name:  "in order passes straight through",
			steps: []step{{1, []int64{1}, false}, {2, []int64{2}, false}, {3, []int64{3}, false}},
		},
		{
			name:  "first event starts the stream",
			steps: []step{{41, []int64{41}, false}, {42, []int64{42}, false}, {43, []int64{43}, false}},
		},
		{
			name:  "event ahead of next is held until the gap fills",
			steps: []step{{1, []int64{1}, false}, {3, nil, false}, {2, []int64{2, 3}, false}, {4, []int64{4}, false}},
		},
		{
			name: "several held in reverse order are released in order",
			steps: []step{
				{1, []int64{1}, false}, {6, nil, false}, {5, nil, false}, {4, nil, false}, {3, nil, false},
				{2, []int64{2, 3, 4, 5, 6}, false}, {7, []int64{7}, false},
			},
		},
		{
			name:  "only the consecutive part of what is held is released",
			steps: []step{{1, []int64{1}, false}, {3, nil, false}, {5, nil, false}, {2, []int64{2, 3}, false}},
			held:  1,
		},
		{
			name: "below next is a duplicate",
			steps: []step{
				{1, []int64{1}, false}, {2, []int64{2}, false}, {1, nil, true}, {2, nil, true}, {3, []int64{3}, false},
			},
		},
		{
			name:  "below the first event is a duplicate",
			steps: []step{{10, []int64{10}, false}, {9, nil, true}},
		},
		{
			name:  "already held is a duplicate",
			steps: []step{{1, []int64{1}, false}, {3, nil, false}, {3, nil, true}, {2, []int64{2, 3}, false}},
		},
		{
			name:  "held then released is a duplicate",
			steps: []step{{1, []int64{1}, false}, {3, nil, false}, {2, []int64{2, 3}, false}, {3, nil, true}, {2, nil, true}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var r reorder
			now := time.Unix(1_000, 0)
			var handed []int64
			for i, s := range tt.steps {
				ready, duplicate := r.offer(del(s.seq), now)
				require.Equalf(t, s.ready, seqsOf(ready), "step %d: offer(%d)", i, s.seq)
				require.Equalf(t, s.duplicate, duplicate, "step %d: offer(%d) duplicate", i, s.seq)
				handed = append(handed, seqsOf(ready)...)
			}
			requireOnce(t, handed)
			require.Equal(t, tt.held, r.heldCount())
		})
	}
}

func TestReorderGap(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name     string
		offers   []int64
		from, to int64
		ok       bool
	}{
		{name: "nothing offered", offers: nil},
		{name: "nothing held", offers: []int64{1, 2, 3}},
		{name: "one held", offers: []int64{1, 4}, from: 2, to: 4, ok: true},
		{name: "up to the first held", offers: []int64{1, 9, 6, 4}, from: 2, to: 4, ok: true},
		{name: "after a released run", offers: []int64{1, 3, 2, 7}, from: 4, to: 7, ok: true},
		{name: "first event not at one", offers: []int64{20, 23}, from: 21, to: 23, ok: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var r reorder
			for _, s := range tt.offers {
				r.offer(del(s), time.Unix(1_000, 0))
			}
			from, to, ok := r.gap()
			require.Equal(t, tt.ok, ok)
			if ok {
				require.Equal(t, [2]int64{tt.from, tt.to}, [2]int64{from, to}, "gap [from, to)")
			}
		})
	}
}

func TestReorderExpired(t *testing.T) {
	t.Parallel()

	const timeout = 100 * time.Millisecond
	base := time.Unix(1_000, 0)
	tests := []struct {
		name    string
		offers  []int64
		now     time.Time
		maxHeld int
		want    bool
	}{
		{name: "nothing held never expires", offers: []int64{1, 2}, now: base.Add(time.Hour), maxHeld: 10},
		{name: "held, before the timeout", offers: []int64{1, 3}, now: base.Add(timeout - time.Nanosecond), maxHeld: 10},
		{name: "held, at the timeout", offers: []int64{1, 3}, now: base.Add(timeout), maxHeld: 10, want: true},
		{name: "held, after the timeout", offers: []int64{1, 3}, now: base.Add(time.Second), maxHeld: 10, want: true},
		{name: "exactly maxHeld held", offers: []int64{1, 3, 4}, now: base, maxHeld: 2},
		{name: "beyond maxHeld", offers: []int64{1, 3, 4, 5}, now: base, maxHeld: 2, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var r reorder
			for _, s := range tt.offers {
				r.offer(del(s), base)
			}
			require.Equal(t, tt.want, r.expired(tt.now, timeout, tt.maxHeld))
		})
	}
}

// TestReorderLaterGapHasItsOwnClock: when a gap fills and events past a second gap stay held, the
// timeout counts from when the second gap opened.
func TestReorderLaterGapHasItsOwnClock(t *testing.T) {
	t.Parallel()

	const timeout = 100 * time.Millisecond
	t0 := time.Unix(1_000, 0)
	t1 := t0.Add(80 * time.Millisecond)
	var r reorder
	r.offer(del(1), t0)
	r.offer(del(3), t0)
	r.offer(del(5), t0)
	ready, _ := r.offer(del(2), t1)
	require.Equal(t, []int64{2, 3}, seqsOf(ready))
	require.False(t, r.expired(t0.Add(timeout), timeout, 10), "the second gap opened at t1")
	require.True(t, r.expired(t1.Add(timeout), timeout, 10))
}

func TestReorderFill(t *testing.T) {
	t.Parallel()

	now := time.Unix(1_000, 0)
	tests := []struct {
		name   string
		offers []int64
		fill   []int64
		ready  []int64
		held   int
		// after is offered once the fill is done, with what it must return.
		after      int64
		afterReady []int64
		afterDup   bool
	}{
		{
			name:   "the missing events release everything in order",
			offers: []int64{1, 5, 4}, fill: []int64{2, 3}, ready: []int64{2, 3, 4, 5},
			after: 6, afterReady: []int64{6},
		},
		{
			name:   "filled seqs are duplicates afterwards",
			offers: []int64{1, 4}, fill: []int64{2, 3}, ready: []int64{2, 3, 4},
			after: 3, afterDup: true,
		},
		{
			name:   "filling the first gap stops at the second",
			offers: []int64{1, 3, 6}, fill: []int64{2}, ready: []int64{2, 3}, held: 1,
			after: 4, afterReady: []int64{4},
		},
		{
			name:   "nothing read skips the gap",
			offers: []int64{1, 4, 5}, fill: nil, ready: []int64{4, 5},
			after: 6, afterReady: []int64{6},
		},
		{
			name:   "a skipped seq arriving late is a duplicate",
			offers: []int64{1, 4}, fill: nil, ready: []int64{4},
			after: 2, afterDup: true,
		},
		{
			name:   "nothing read skips only the first gap",
			offers: []int64{1, 3, 6}, fill: nil, ready: []int64{3}, held: 1,
			after: 5, afterReady: nil,
		},
		{
			name:   "nothing held: a fill changes nothing",
			offers: []int64{1, 2}, fill: nil, ready: nil,
			after: 3, afterReady: []int64{3},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var r reorder
			var handed []int64
			for _, s := range tt.offers {
				ready, _ := r.offer(del(s), now)
				handed = append(handed, seqsOf(ready)...)
			}
			ready := r.fill(dels(tt.fill...), now)
			require.Equal(t, tt.ready, seqsOf(ready), "fill")
			require.Equal(t, tt.held, r.heldCount(), "held after fill")
			handed = append(handed, seqsOf(ready)...)

			ready, dup := r.offer(del(tt.after), now)
			require.Equal(t, tt.afterReady, seqsOf(ready), "offer(%d) after fill", tt.after)
			require.Equal(t, tt.afterDup, dup, "offer(%d) after fill: duplicate", tt.after)
			handed = append(handed, seqsOf(ready)...)
			requireOnce(t, handed)
		})
	}
}

// TestReorderFillCannotStall drives the buffer the way the hub's sweeper does, repeatedly, until
// nothing is held: whatever the log answers, the buffer must drain, each seq handed on once.
func TestReorderFillCannotStall(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		offers []int64
		// log is what the event log holds; a fill reads the gap from it.
		log  []int64
		want []int64
	}{
		{name: "log holds the gap", offers: []int64{1, 4, 6}, log: []int64{1, 2, 3, 4, 5, 6}, want: []int64{1, 2, 3, 4, 5, 6}},
		{name: "log is empty", offers: []int64{1, 4, 6}, log: nil, want: []int64{1, 4, 6}},
		// The doc of fill: "Should the log lack part of the gap ... the gap is skipped rather than
		// held forever."
		{name: "log lacks the start of the gap", offers: []int64{1, 4}, log: []int64{1, 3, 4}, want: []int64{1, 3, 4}},
		{name: "log lacks the end of the gap", offers: []int64{1, 4}, log: []int64{1, 2, 4}, want: []int64{1, 2, 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			now := time.Unix(1_000, 0)
			var r reorder
			var handed []int64
			for _, s := range tt.offers {
				ready, _ := r.offer(del(s), now)
				handed = append(handed, seqsOf(ready)...)
			}
			for round := 0; r.heldCount() > 0; round++ {
				require.Lessf(t, round, 10, "the buffer stalls: still holding %d event(s), next gap from %d", r.heldCount(), r.next)
				from, to, ok := r.gap()
				require.True(t, ok)
				var read []delivery
				for _, s := range tt.log {
					if s >= from && s < to {
						read = append(read, del(s))
					}
				}
				now = now.Add(time.Second)
				handed = append(handed, seqsOf(r.fill(read, now))...)
			}
			require.Equal(t, tt.want, handed)
		})
	}
}

// TestReorderFillRacingAnOffer reproduces what the hub's sweeper does: it reads a gap from the log
// without the hub's lock, and an event inside that gap may arrive meanwhile and be held. The fill
// then hands that event on from the log; the held copy must not stay behind, be handed on a second
// time, or bend the next gap backwards.
func TestReorderFillRacingAnOffer(t *testing.T) {
	t.Parallel()

	now := time.Unix(1_000, 0)
	var r reorder
	var handed []int64
	offer := func(seq int64) {
		ready, _ := r.offer(del(seq), now)
		handed = append(handed, seqsOf(ready)...)
	}
	offer(1)
	offer(5)
	from, to, ok := r.gap()
	require.True(t, ok)
	require.Equal(t, [2]int64{2, 5}, [2]int64{from, to})
	// The sweeper reads [2, 5) from the log; meanwhile 3 arrives from the broker.
	offer(3)
	handed = append(handed, seqsOf(r.fill(dels(2, 3, 4), now))...)
	offer(6)
	// The sweeper's next pass: whatever is still held past its timeout is filled from the log,
	// which holds nothing after 6.
	if _, _, ok := r.gap(); ok {
		handed = append(handed, seqsOf(r.fill(nil, now.Add(time.Second)))...)
	}
	requireOnce(t, handed)
	require.Equal(t, []int64{1, 2, 3, 4, 5, 6}, handed)
	require.Zero(t, r.heldCount(), "a seq handed on from the log is still held")
	_, _, ok = r.gap()
	require.False(t, ok)
}
