package realtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgxlisten"
	"github.com/sony/gobreaker/v2"
	"go.opentelemetry.io/otel/trace"

	"github.com/parleyhq/parley/gen/db"
	"github.com/parleyhq/parley/internal/lifecycle"
	"github.com/parleyhq/parley/internal/telemetry"
)

// outboxChannel is the NOTIFY channel every committed change signals.
const outboxChannel = "parley_outbox"

// Dispatcher moves committed events from the outbox to the broker: woken by LISTEN/NOTIFY (with a
// slow poll as a safety net), it claims rows with FOR UPDATE SKIP LOCKED, publishes them and
// deletes them in the same transaction. While the broker fails, a circuit breaker stops trying for
// a while; the outbox simply grows and nothing is lost.
type Dispatcher struct {
	cfg     DispatcherConfig
	pool    *pgxpool.Pool
	connect func(ctx context.Context) (*pgx.Conn, error)
	broker  Publisher
	breaker *gobreaker.CircuitBreaker[struct{}]
	metrics *Metrics
	logger  *slog.Logger
	handOff HandOff

	wake   chan struct{}
	notify chan struct{}
	// self is the payload of this dispatcher's notifications, so that its listener can skip them:
	// its own loop was woken directly.
	self string
	life lifecycle.Base
}

// notifyInterval is the least time between two notifications of one node: the commits of that
// interval share the next one. Only the other nodes wait for it, and only when this node's own
// loop, woken at once, is not already publishing their rows.
const notifyInterval = 10 * time.Millisecond

// HandOff writes durable follow-up work for published events (webhooks, notification jobs) in
// the transaction that deletes their outbox rows, so the work exists exactly when the events left
// the outbox: a crash loses neither. after, when not nil, is called once that transaction has
// committed (to wake whoever does the work); an error rolls the whole batch back.
type HandOff interface {
	HandOff(ctx context.Context, tx pgx.Tx, batch []Envelope) (after func(), err error)
}

// NewDispatcher returns a stopped dispatcher. connect opens the dedicated LISTEN connection;
// handOff, when not nil, gets every published batch inside its transaction.
func NewDispatcher(cfg DispatcherConfig, pool *pgxpool.Pool, connect func(ctx context.Context) (*pgx.Conn, error), broker Publisher, handOff HandOff, metrics *Metrics, logger *slog.Logger) (*Dispatcher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("dispatcher: %w", err)
	}
	d := &Dispatcher{cfg: cfg, pool: pool, connect: connect, broker: broker, handOff: handOff, metrics: metrics, logger: logger, wake: make(chan struct{}, 1), notify: make(chan struct{}, 1), self: uuid.NewString()}
	d.breaker = gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{
		Name:    "publish",
		Timeout: cfg.BreakerTimeout,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			return c.ConsecutiveFailures >= 3
		},
		OnStateChange: func(_ string, from, to gobreaker.State) {
			metrics.breakerState.Set(float64(to))
			logger.Warn("publish circuit breaker", "from", from.String(), "to", to.String())
		},
	})
	return d, nil
}

// Start connects the listener (failing fast when PostgreSQL is unreachable) and starts the loops.
func (d *Dispatcher) Start(ctx context.Context) error {
	return d.life.Start("dispatcher", func(run *lifecycle.Run) error {
		conn, err := d.connect(ctx)
		if err != nil {
			return fmt.Errorf("connect listener: %w", err)
		}
		first := &conn
		listener := d.listener(first)
		run.Go(func(ctx context.Context) {
			if err := listener.Listen(ctx); err != nil && !errors.Is(err, context.Canceled) {
				d.logger.Error("dispatcher: listener stopped", "error", err)
			}
			if *first != nil { // stopped before the listener took it
				(*first).Close(context.Background())
			}
		})
		run.Go(d.loop)
		run.Go(d.notifyLoop)
		return nil
	})
}

// listener listens for notifications on *first (which it takes, leaving nil), then on new
// connections when that one is lost.
func (d *Dispatcher) listener(first **pgx.Conn) *pgxlisten.Listener {
	l := &pgxlisten.Listener{
		Connect: func(ctx context.Context) (*pgx.Conn, error) {
			if c := *first; c != nil {
				*first = nil
				return c, nil
			}
			return d.connect(ctx)
		},
		LogError: func(ctx context.Context, err error) {
			if ctx.Err() == nil {
				d.logger.WarnContext(ctx, "dispatcher: listener", "error", err)
			}
		},
		ReconnectDelay: d.cfg.ReconnectDelay,
	}
	l.Handle(outboxChannel, wakeHandler{poke: d.poke, self: d.self})
	return l
}

// Wake is called once a transaction that wrote outbox rows has committed: it wakes this node's
// loop at once, and the other nodes through NOTIFY. NOTIFY is sent here, after the commit and by
// one goroutine, rather than inside the writing transactions: there it would serialise every
// commit on PostgreSQL's notify queue lock, and here the commits of a notifyInterval share one.
func (d *Dispatcher) Wake() {
	d.poke()
	select {
	case d.notify <- struct{}{}:
	default:
	}
}

func (d *Dispatcher) notifyLoop(ctx context.Context) {
	q := db.New(d.pool)
	pause := time.NewTimer(notifyInterval) // stopped until a notification has gone
	pause.Stop()
	defer pause.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.notify:
		}
		if err := q.OutboxNotify(ctx, d.self); err != nil && ctx.Err() == nil {
			d.logger.WarnContext(ctx, "dispatcher: notify other nodes", "error", err)
		}
		pause.Reset(notifyInterval)
		select {
		case <-ctx.Done():
			return
		case <-pause.C:
		}
	}
}

// Stop ends the loops and waits for them.
func (d *Dispatcher) Stop(ctx context.Context) error { return d.life.Stop(ctx, nil) }

func (d *Dispatcher) poke() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// wakeHandler wakes the loop on every notification but its own dispatcher's, and once when the
// listener (re)connects, to catch up on what was committed while it was away.
type wakeHandler struct {
	poke func()
	self string
}

func (h wakeHandler) HandleNotification(_ context.Context, n *pgconn.Notification, _ *pgx.Conn) error {
	if n.Payload != h.self {
		h.poke()
	}
	return nil
}

func (h wakeHandler) HandleBacklog(context.Context, string, *pgx.Conn) error {
	h.poke()
	return nil
}

func (d *Dispatcher) loop(ctx context.Context) {
	poll := time.NewTicker(d.cfg.PollInterval)
	defer poll.Stop()
	for {
		n, err := d.RunOnce(ctx)
		if err != nil && ctx.Err() == nil && !errors.Is(err, gobreaker.ErrOpenState) {
			d.logger.WarnContext(ctx, "dispatcher: publish outbox batch", "error", err)
		}
		if err == nil && n == d.cfg.BatchSize {
			continue // more is waiting
		}
		select {
		case <-ctx.Done():
			return
		case <-d.wake:
		case <-poll.C:
		}
	}
}

// RunOnce claims one batch, publishes it and deletes it, all in one transaction, and returns how
// many events it published. Rows whose publish fails stay in the outbox.
func (d *Dispatcher) RunOnce(ctx context.Context) (int, error) {
	var published int
	var after func()
	var spans []trace.Span // the publish spans of the batch's traced events
	err := pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		q := db.New(tx)
		if err := q.OutboxRelaxCommit(ctx); err != nil {
			return fmt.Errorf("relax commit: %w", err)
		}
		rows, err := q.OutboxClaim(ctx, int32(d.cfg.BatchSize))
		if err != nil {
			return fmt.Errorf("claim outbox: %w", err)
		}
		if len(rows) == 0 {
			return nil
		}
		batch := make([]Envelope, len(rows))
		ids := make([]int64, len(rows))
		for i, r := range rows {
			batch[i] = Envelope{ConversationID: r.ConversationID, Seq: r.Seq, Payload: r.Payload, CommittedAt: r.CreatedAt}
			ids[i] = r.ID
		}
		publishCtx := ctx
		if d.cfg.Tracer != nil {
			publishCtx, spans = d.tracePublish(ctx, rows, batch)
		}
		start := time.Now()
		_, err = d.breaker.Execute(func() (struct{}, error) {
			return struct{}{}, d.broker.Publish(publishCtx, batch)
		})
		if err != nil {
			return fmt.Errorf("publish: %w", err)
		}
		d.metrics.publishSeconds.Observe(time.Since(start).Seconds())
		if d.handOff != nil {
			if after, err = d.handOff.HandOff(ctx, tx, batch); err != nil {
				return fmt.Errorf("hand off published events: %w", err)
			}
		}
		if err := q.OutboxDelete(ctx, ids); err != nil {
			return fmt.Errorf("delete published outbox rows: %w", err)
		}
		published = len(rows)
		return nil
	})
	for _, span := range spans {
		endWithError(span, err)
	}
	if err != nil {
		return 0, err
	}
	if after != nil {
		after()
	}
	d.metrics.published.Add(float64(published))
	return published, nil
}

// tracePublish starts a publish span for each event whose outbox row carries a trace, and has
// the event carry that span onwards. The batch is published in one call, under the first traced
// event's span: its Redis command joins that trace.
func (d *Dispatcher) tracePublish(ctx context.Context, rows []db.OutboxClaimRow, batch []Envelope) (context.Context, []trace.Span) {
	publishCtx := ctx
	var spans []trace.Span
	for i, r := range rows {
		if r.TraceContext == nil {
			continue
		}
		parent := telemetry.ParseTraceParent(*r.TraceContext)
		if !parent.IsValid() {
			continue
		}
		spanCtx, span := d.cfg.Tracer.startPublish(ctx, parent, batch[i], len(batch))
		if spans == nil {
			publishCtx = spanCtx
		}
		spans = append(spans, span)
		batch[i].Trace = span.SpanContext()
	}
	return publishCtx, spans
}
