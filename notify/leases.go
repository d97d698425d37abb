package notify

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/parleyhq/parley/gen/db"
	"github.com/parleyhq/parley/internal/lifecycle"
)

// Leases holds this node's fair share of the Shards: every LeaseTTL/3 it records the node as
// alive, counts the live nodes and takes or renews ceil(Shards/nodes) leases, giving up the rest.
//
// A lease is trusted locally only until the renewal's start plus LeaseTTL (measured on this
// node's monotonic clock, before the database's now() that the lease itself counts from), so a
// node that cannot renew stops sending before another node may take the shard. A shard given up
// while a POST for it is in flight is released only once that POST ended.
type Leases struct {
	cfg    Config
	pool   *pgxpool.Pool
	logger *slog.Logger
	// now is the clock, for tests.
	now func() time.Time

	mu      sync.Mutex
	shards  map[int16]*lease
	changed chan struct{} // closed at the next change of the shards held
	release chan struct{} // a given-up shard's last POST ended

	life lifecycle.Base
}

type lease struct {
	validUntil time.Time
	inFlight   int
	draining   bool // given up: no new POSTs, released once inFlight is 0
}

// NewLeases returns stopped leases for cfg.NodeID over pool.
func NewLeases(cfg Config, pool *pgxpool.Pool, logger *slog.Logger) *Leases {
	return &Leases{
		cfg: cfg, pool: pool, logger: logger, now: time.Now,
		shards: map[int16]*lease{}, changed: make(chan struct{}), release: make(chan struct{}, 1),
	}
}

// Start takes the first leases (failing fast when PostgreSQL is unreachable) and starts renewing.
func (l *Leases) Start(ctx context.Context) error {
	return l.life.Start("webhook leases", func(run *lifecycle.Run) error {
		if err := l.beat(ctx); err != nil {
			return err
		}
		run.Go(l.loop)
		return nil
	})
}

// Stop stops renewing and releases every shard no POST is in flight for, so that after a
// restart or a deploy another node takes them at once. Stop the Sender first: a shard still in
// use is left to lapse.
func (l *Leases) Stop(ctx context.Context) error {
	if err := l.life.Stop(ctx, nil); err != nil {
		return err
	}
	l.mu.Lock()
	keep := []int16{}
	for s, ls := range l.shards {
		if ls.inFlight > 0 {
			keep = append(keep, s)
		}
	}
	clear(l.shards)
	l.signalLocked()
	l.mu.Unlock()
	q := db.New(l.pool)
	if err := q.WebhookNodeLeave(ctx, l.cfg.NodeID); err != nil {
		return fmt.Errorf("leave webhook nodes: %w", err)
	}
	if err := q.WebhookLeasesRelease(ctx, db.WebhookLeasesReleaseParams{Self: l.cfg.NodeID, Keep: keep}); err != nil {
		return fmt.Errorf("release webhook leases: %w", err)
	}
	return nil
}

// Held returns the shards this node may send now, in order.
func (l *Leases) Held() []int16 {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	held := make([]int16, 0, len(l.shards))
	for s, ls := range l.shards {
		if !ls.draining && now.Add(leaseMargin).Before(ls.validUntil) {
			held = append(held, s)
		}
	}
	slices.Sort(held)
	return held
}

// Changed returns a channel closed at the next change of the shards held: wait on it, then call
// Held and Changed again.
func (l *Leases) Changed() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.changed
}

// acquire marks a POST for shard in flight and returns when the lease ends: the POST must be over
// by then. ok is false when the node may not send for the shard (not held, given up, or not
// renewed in time).
func (l *Leases) acquire(shard int16) (until time.Time, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ls := l.shards[shard]
	if ls == nil || ls.draining || !l.now().Add(leaseMargin).Before(ls.validUntil) {
		return time.Time{}, false
	}
	ls.inFlight++
	return ls.validUntil, true
}

// done ends a POST acquire allowed.
func (l *Leases) done(shard int16) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ls := l.shards[shard]
	if ls == nil {
		return
	}
	ls.inFlight--
	if ls.draining && ls.inFlight == 0 {
		select {
		case l.release <- struct{}{}:
		default:
		}
	}
}

func (l *Leases) loop(ctx context.Context) {
	tick := time.NewTicker(l.cfg.LeaseTTL / 3)
	defer tick.Stop()
	forget := time.NewTicker(time.Hour)
	defer forget.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-l.release:
		case <-forget.C:
			if err := db.New(l.pool).WebhookNodesForget(ctx); err != nil && ctx.Err() == nil {
				l.logger.WarnContext(ctx, "webhook leases: forget old nodes", "error", err)
			}
			continue
		}
		if err := l.beat(ctx); err != nil && ctx.Err() == nil {
			// Keep trying: what this node holds stays usable until its local lease end, and
			// no longer.
			l.logger.WarnContext(ctx, "webhook leases: renew", "error", err, "held", l.Held())
			l.dropLapsed()
		}
	}
}

// beat renews this node's leases, takes its fair share and gives up the rest.
func (l *Leases) beat(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, l.cfg.LeaseTTL/3)
	defer cancel()
	start := l.now()
	q := db.New(l.pool)
	ttl := l.cfg.LeaseTTL.Seconds()
	nodes, err := q.WebhookNodeBeat(ctx, db.WebhookNodeBeatParams{Self: l.cfg.NodeID, TtlSeconds: ttl})
	if err != nil {
		return fmt.Errorf("record node: %w", err)
	}
	fair := (Shards + int(nodes) - 1) / max(int(nodes), 1)
	taken, err := q.WebhookLeasesTake(ctx, db.WebhookLeasesTakeParams{Self: l.cfg.NodeID, TtlSeconds: ttl, Fair: int32(fair)})
	if err != nil {
		return fmt.Errorf("take leases: %w", err)
	}
	keep := l.apply(taken, start.Add(l.cfg.LeaseTTL))
	if err := q.WebhookLeasesRelease(ctx, db.WebhookLeasesReleaseParams{Self: l.cfg.NodeID, Keep: keep}); err != nil {
		return fmt.Errorf("release leases: %w", err)
	}
	return nil
}

// apply records that the node holds taken until validUntil: shards held before and not taken
// now are given up, at once when no POST is in flight for them. It returns the shards to keep in
// the database.
func (l *Leases) apply(taken []int16, validUntil time.Time) []int16 {
	l.mu.Lock()
	defer l.mu.Unlock()
	before := l.heldLocked()
	for _, s := range taken {
		ls := l.shards[s]
		if ls == nil {
			ls = &lease{}
			l.shards[s] = ls
		}
		ls.validUntil, ls.draining = validUntil, false
	}
	keep := slices.Clone(taken)
	for s, ls := range l.shards {
		if slices.Contains(taken, s) {
			continue
		}
		if ls.inFlight > 0 {
			ls.draining = true // not renewed: its POSTs end before its lease does
			keep = append(keep, s)
			continue
		}
		delete(l.shards, s)
	}
	if after := l.heldLocked(); !slices.Equal(before, after) {
		l.logger.Info("webhook leases: shards held", "node", l.cfg.NodeID, "shards", after, "given_up_in_use", len(keep)-len(taken))
		l.signalLocked()
	}
	return keep
}

// dropLapsed forgets leases past their local end, which other nodes may have taken.
func (l *Leases) dropLapsed() {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	dropped := false
	for s, ls := range l.shards {
		if ls.inFlight == 0 && !now.Before(ls.validUntil) {
			delete(l.shards, s)
			dropped = true
		}
	}
	if dropped {
		l.signalLocked()
	}
}

func (l *Leases) heldLocked() []int16 {
	held := make([]int16, 0, len(l.shards))
	for s, ls := range l.shards {
		if !ls.draining {
			held = append(held, s)
		}
	}
	slices.Sort(held)
	return held
}

func (l *Leases) signalLocked() {
	close(l.changed)
	l.changed = make(chan struct{})
}
