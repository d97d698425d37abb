package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/parleyhq/parley/gen/db"
	"github.com/parleyhq/parley/internal/lifecycle"
)

// perKey is how many rows of one ordering key a round sends, one after another.
const perKey = 32

// recordTimeout bounds writing a round's results, which happens even while stopping. It is
// generous: an acknowledged webhook whose delete gives up is sent again, and a busy database
// takes seconds for what usually takes milliseconds.
const recordTimeout = 30 * time.Second

// Sender POSTs the webhooks of the shards this node leases. Each round reads the due heads of up
// to 4×Concurrency ordering keys with up to perKey rows each, sends the keys concurrently and each
// key's rows strictly in order (the next only after a 2xx), then records the round: acknowledged
// rows deleted, the failed head of each key retried after a backoff or, once its retry period is
// over, dead-lettered so that the key goes on.
//
// It runs on its own goroutines and uses one pool connection at a time, so WebSocket delivery
// never waits for it.
type Sender struct {
	cfg     Config
	pool    *pgxpool.Pool
	leases  *Leases
	metrics *Metrics
	logger  *slog.Logger
	signer  *standardwebhooks.Webhook
	client  *http.Client

	wake chan struct{}
	// down is set by a round whose POSTs failed as an unreachable receiver's do, with none
	// acknowledged; the next acknowledgement ends the outage. Used by the loop goroutine only.
	down bool
	// lastTry is when the loop last POSTed; while down, a probe goes every probeEvery after it.
	lastTry    time.Time
	probeEvery time.Duration
	life       lifecycle.Base
	mu         sync.Mutex         // guards abort
	abort      context.CancelFunc // cuts the POSTs of a Stop whose context ended; set by Start
}

// NewSender returns a stopped sender for cfg (which must be enabled) over the shards leases holds.
func NewSender(cfg Config, pool *pgxpool.Pool, leases *Leases, metrics *Metrics, logger *slog.Logger) (*Sender, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("webhook sender: %w", err)
	}
	if !cfg.Enabled() {
		return nil, errors.New("webhook sender: no webhook URL")
	}
	signer, err := newSigner(cfg.Secret)
	if err != nil {
		return nil, fmt.Errorf("webhook sender: %w", err)
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConns = cfg.Concurrency
	transport.MaxIdleConnsPerHost = cfg.Concurrency
	transport.MaxConnsPerHost = cfg.Concurrency
	return &Sender{
		cfg: cfg, pool: pool, leases: leases, metrics: metrics, logger: logger, signer: signer,
		client: &http.Client{Timeout: cfg.Timeout, Transport: transport,
			// A redirect is an answer, not a delivery: the operator configures the final URL.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		wake: make(chan struct{}, 1), probeEvery: probeInterval(cfg),
	}, nil
}

// Wake makes the sender look for work now: the hand-off calls it once webhooks it wrote are
// committed.
func (s *Sender) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Start starts sending.
func (s *Sender) Start(context.Context) error {
	return s.life.Start("webhook sender", func(run *lifecycle.Run) error {
		// POSTs run under their own context, so that Stop lets those in flight finish (and their
		// acknowledgements be recorded) rather than cutting them into duplicates.
		posts, abort := context.WithCancel(context.Background())
		s.mu.Lock()
		s.abort = abort
		s.mu.Unlock()
		run.Go(func(ctx context.Context) {
			defer abort()
			s.loop(ctx, posts)
		})
		return nil
	})
}

// Stop sends no new webhooks and waits for the POSTs in flight, up to ctx; then it cuts them
// (they will be sent again) and waits for the sender to end.
func (s *Sender) Stop(ctx context.Context) error {
	err := s.life.Stop(ctx, nil)
	if err != nil {
		s.mu.Lock()
		abort := s.abort
		s.mu.Unlock()
		if abort != nil {
			abort()
		}
		if err2 := s.life.Stop(context.Background(), nil); err2 != nil {
			return errors.Join(err, err2)
		}
	}
	s.client.CloseIdleConnections()
	return err
}

func (s *Sender) loop(ctx, posts context.Context) {
	poll := time.NewTicker(s.cfg.PollInterval)
	defer poll.Stop()
	for {
		changed := s.leases.Changed()
		more, err := s.round(ctx, posts)
		if err != nil && ctx.Err() == nil {
			s.logger.WarnContext(ctx, "webhook sender: round", "error", err)
		}
		if more && ctx.Err() == nil {
			continue
		}
		// While the receiver is down, new webhooks cannot go either: the poll (which also
		// probes the receiver) is enough, and the database is spared a read per commit.
		wake := s.wake
		if s.down {
			wake = nil
		}
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-changed:
		case <-poll.C:
		}
		// Commits come one after another: gathering them for a moment makes one round (a read
		// and a delete) carry many webhooks rather than one, which keeps the database work per
		// webhook small; webhooks wait at most that moment longer.
		linger := time.NewTimer(s.cfg.PollInterval / 10)
		select {
		case <-ctx.Done():
			linger.Stop()
			return
		case <-linger.C:
		}
	}
}

// outcome is what became of one row in a round.
type outcome struct {
	acked    bool
	failed   string // the error, when the POST failed
	endpoint bool   // failed as an unreachable receiver does: no connection, timeout, 502-504
}

// round sends one batch and records it; more says that work may be waiting already.
func (s *Sender) round(ctx, posts context.Context) (more bool, err error) {
	shards := s.leases.Held()
	if len(shards) == 0 {
		return false, nil
	}
	q := db.New(s.pool)
	if s.down && time.Since(s.lastTry) >= s.probeEvery {
		if _, err := q.WebhookProbe(ctx, shards); err != nil {
			return false, fmt.Errorf("probe receiver: %w", err)
		}
	}
	maxKeys := 4 * s.cfg.Concurrency
	rows, err := q.WebhookBatch(ctx, db.WebhookBatchParams{Shards: shards, MaxKeys: int32(maxKeys), PerKey: perKey})
	if err != nil {
		return false, fmt.Errorf("read webhooks: %w", err)
	}
	if len(rows) == 0 {
		return false, nil
	}
	s.lastTry = time.Now()
	results := make([]outcome, len(rows))
	sem := make(chan struct{}, s.cfg.Concurrency)
	var wg sync.WaitGroup
	keys := 0
	for start := 0; start < len(rows); {
		end := start + 1
		for end < len(rows) && rows[end].OrderingKey == rows[start].OrderingKey {
			end++
		}
		if keys++; end-start == perKey {
			keys = maxKeys // a key with more rows waiting
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(rows []db.WebhookBatchRow, results []outcome) {
			defer func() { <-sem; wg.Done() }()
			s.sendKey(ctx, posts, rows, results)
		}(rows[start:end], results[start:end])
		start = end
	}
	wg.Wait()
	// A full batch says more is waiting: the next round goes at once.
	full := keys >= maxKeys
	more, err = s.record(posts, shards, rows, results)
	more = more || full
	// The shards stay in use until the round is recorded: a shard given up meanwhile is released
	// only now, so the next node does not resend what this one just delivered.
	for i, r := range rows {
		if results[i].acked || results[i].failed != "" {
			s.leases.done(r.Shard)
		}
	}
	return more, err
}

// sendKey sends one key's rows in order until one fails, the node may no longer send for the
// shard, or the sender stops.
func (s *Sender) sendKey(ctx, posts context.Context, rows []db.WebhookBatchRow, results []outcome) {
	for i, r := range rows {
		if ctx.Err() != nil {
			return
		}
		until, ok := s.leases.acquire(r.Shard)
		if !ok {
			return
		}
		res, err := s.post(posts, r, until) // the round calls leases.done once it is recorded
		s.metrics.attempts.WithLabelValues(res).Inc()
		if err != nil {
			results[i].failed = err.Error()
			results[i].endpoint = res != outcomeHTTPError || errors.Is(err, errUnavailable)
			return
		}
		results[i].acked = true
		s.metrics.latency.Observe(time.Since(r.CreatedAt).Seconds())
	}
}

// record deletes what was acknowledged and reschedules or dead-letters what failed. It runs even
// while stopping (parent is the POSTs' context, which only a Stop out of time cuts).
func (s *Sender) record(parent context.Context, shards []int16, rows []db.WebhookBatchRow, results []outcome) (more bool, err error) {
	ctx, cancel := context.WithTimeout(parent, recordTimeout)
	defer cancel()
	var acked []string
	var failed db.WebhookRetryLaterParams
	unreachable := false
	for i, r := range rows {
		switch {
		case results[i].acked:
			acked = append(acked, r.ID)
		case results[i].failed != "":
			unreachable = unreachable || results[i].endpoint
			failed.Ids = append(failed.Ids, r.ID)
			failed.DelaySeconds = append(failed.DelaySeconds, s.backoff(int(r.Attempts)).Seconds())
			failed.Errors = append(failed.Errors, results[i].failed)
		}
	}
	q := db.New(s.pool)
	if len(acked) > 0 {
		if err := q.WebhookDelete(ctx, acked); err != nil {
			return false, fmt.Errorf("delete %d acknowledged webhooks: %w", len(acked), err)
		}
		if s.down {
			// The receiver is back: what waits out a backoff from the outage goes now. A webhook
			// the receiver refuses on its own (a 4xx, a 500) never sets down, so it keeps its
			// backoff.
			s.down = false
			if n, err := q.WebhookRetryNow(ctx, shards); err != nil {
				return false, fmt.Errorf("end outage backoffs: %w", err)
			} else if n > 0 {
				s.logger.InfoContext(ctx, "webhook sender: receiver reachable again, retrying now", "webhooks", n)
			}
		}
	} else if unreachable {
		s.down = true
	}
	if len(failed.Ids) == 0 {
		return false, nil
	}
	if err := q.WebhookRetryLater(ctx, failed); err != nil {
		return false, fmt.Errorf("reschedule %d failed webhooks: %w", len(failed.Ids), err)
	}
	dead, err := q.WebhookDeadLetterExpired(ctx, db.WebhookDeadLetterExpiredParams{Ids: failed.Ids, RetrySeconds: s.cfg.RetryFor.Seconds()})
	if err != nil {
		return false, fmt.Errorf("dead-letter expired webhooks: %w", err)
	}
	if dead > 0 {
		s.metrics.deadLetters.Add(float64(dead))
		s.logger.WarnContext(ctx, "webhook sender: dead-lettered webhooks failing for the whole retry period", "count", dead, "retry_for", s.cfg.RetryFor)
	}
	return dead > 0, nil // the keys of dead letters go on at once
}

// probeInterval is how often a webhook is tried while the receiver seems down, whatever the
// backoffs of the webhooks waiting: 5 s within the backoff range, so that once the receiver is
// back the backlog starts draining within seconds, at the cost of one POST per interval while it
// is down.
func probeInterval(cfg Config) time.Duration {
	return min(cfg.BackoffMax, max(cfg.BackoffMin, 5*time.Second))
}

// backoff is the wait after a row's attempts+1-th failure: BackoffMin doubling up to BackoffMax,
// with equal jitter (half fixed, half random) so failing keys spread out without ever retrying
// at once.
func (s *Sender) backoff(attempts int) time.Duration {
	d := s.cfg.BackoffMax
	if attempts < 40 {
		d = min(s.cfg.BackoffMin<<attempts, s.cfg.BackoffMax)
	}
	half := d / 2
	return half + rand.N(half+1)
}
