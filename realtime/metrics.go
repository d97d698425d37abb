package realtime

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/parleyhq/parley/gen/db"
)

// Metrics are the realtime path's instruments, registered on the server's own registry.
type Metrics struct {
	connections      prometheus.Gauge
	framesSent       *prometheus.CounterVec
	socketWrites     prometheus.Counter
	writerWakeups    prometheus.Counter
	framesDropped    *prometheus.CounterVec
	closes           *prometheus.CounterVec
	resumes          *prometheus.CounterVec
	commitToSocket   prometheus.Histogram
	reorderHeld      prometheus.Gauge
	gapFills         *prometheus.CounterVec
	publishSeconds   prometheus.Histogram
	published        prometheus.Counter
	breakerState     prometheus.Gauge
	streamReclaims   prometheus.Counter
	streamDeadLetter prometheus.Counter

	// The per-frame series, looked up once: these are on the hot path.
	sentByKind [frameHeartbeat + 1]prometheus.Counter

	presence *presenceMetrics
}

// NewMetrics creates the realtime metrics and registers them on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "parley_ws_connections", Help: "Open WebSocket connections.",
		}),
		framesSent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_ws_frames_sent_total", Help: "Frames written to WebSockets, by kind.",
		}, []string{"kind"}),
		socketWrites: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_ws_socket_writes_total", Help: "Writes to WebSocket connections' sockets (each a write(2)): a batch of frames leaves in one.",
		}),
		writerWakeups: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_ws_writer_wakeups_total", Help: "Times a connection's writer woke to send what its queue holds (each wake-up drains a batch).",
		}),
		framesDropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_ws_frames_dropped_total", Help: "Frames not sent, by reason (duplicate, shed, throttled, rate_limited: typing frames over the limit).",
		}, []string{"reason"}),
		closes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_ws_closes_total", Help: "Connections the server closed, by reason (slow_consumer, token_expired, shutdown, policy).",
		}, []string{"reason"}),
		resumes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_ws_resumes_total", Help: "Conversations asked for in resume frames, by outcome (replayed, resync, not_member).",
		}, []string{"outcome"}),
		commitToSocket: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "parley_commit_to_socket_seconds",
			Help:    "From an event's commit to its frame written on a socket.",
			Buckets: []float64{.001, .002, .005, .01, .02, .05, .1, .25, .5, 1, 5},
		}),
		reorderHeld: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "parley_reorder_held_events", Help: "Events held by reorder buffers, waiting for a gap to fill.",
		}),
		gapFills: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_gap_fills_total", Help: "Gaps filled from PostgreSQL, by where (reorder, connection, catch_up: after the bus lost events).",
		}, []string{"where"}),
		publishSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "parley_outbox_publish_seconds",
			Help:    "Time to publish one claimed outbox batch.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .5, 1},
		}),
		published: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_outbox_published_total", Help: "Events published from the outbox.",
		}),
		breakerState: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "parley_publish_breaker_state", Help: "The publish circuit breaker: 0 closed, 1 half-open, 2 open.",
		}),
		streamReclaims: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_stream_reclaims_total", Help: "Pending stream entries claimed again for another delivery.",
		}),
		streamDeadLetter: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_stream_dead_letters_total", Help: "Stream entries moved to the dead-letter stream.",
		}),
	}
	m.presence = newPresenceMetrics(reg)
	for kind := range m.sentByKind {
		m.sentByKind[kind] = m.framesSent.WithLabelValues(kindLabel(frameKind(kind)))
	}
	// Present at zero from the start, so that rates and dashboards see a series before the first
	// close, resume or gap fill of each kind.
	for _, reason := range []string{"slow_consumer", "token_expired", "shutdown", "policy", "store_unavailable", "resume_busy", "too_many_connections"} {
		m.closes.WithLabelValues(reason)
	}
	for _, outcome := range []string{"replayed", "resync", "not_member"} {
		m.resumes.WithLabelValues(outcome)
	}
	for _, where := range []string{readReorder, readCatchUp, readConnection} {
		m.gapFills.WithLabelValues(where)
	}
	reg.MustRegister(m.connections, m.framesSent, m.socketWrites, m.writerWakeups, m.framesDropped, m.closes, m.resumes, m.commitToSocket,
		m.reorderHeld, m.gapFills, m.publishSeconds, m.published, m.breakerState, m.streamReclaims, m.streamDeadLetter)
	return m
}

// BacklogCollector reports the outbox backlog when Prometheus scrapes: how many events wait to be
// published and the age of the oldest.
type BacklogCollector struct {
	pool      backlogQuerier
	rows, age *prometheus.Desc
}

type backlogQuerier interface {
	OutboxBacklog(ctx context.Context) (db.OutboxBacklogRow, error)
}

// NewBacklogCollector reads the backlog through pool.
func NewBacklogCollector(pool *pgxpool.Pool) *BacklogCollector {
	return &BacklogCollector{
		pool: db.New(pool),
		rows: prometheus.NewDesc("parley_outbox_backlog", "Events in the outbox, not yet published.", nil, nil),
		age:  prometheus.NewDesc("parley_outbox_oldest_age_seconds", "Age of the oldest event not yet published.", nil, nil),
	}
}

func (c *BacklogCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.rows; ch <- c.age }

func (c *BacklogCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	b, err := c.pool.OutboxBacklog(ctx)
	if err != nil {
		return // absent while PostgreSQL is unreachable; /readyz says why
	}
	ch <- prometheus.MustNewConstMetric(c.rows, prometheus.GaugeValue, float64(b.Rows))
	ch <- prometheus.MustNewConstMetric(c.age, prometheus.GaugeValue, b.OldestAgeSeconds)
}

// PendingCollector reports this node's unacknowledged stream entries per shard when scraped.
type PendingCollector struct {
	broker *RedisConsumer
	desc   *prometheus.Desc
}

// NewPendingCollector reads the pending lists of the consumer's group.
func NewPendingCollector(broker *RedisConsumer) *PendingCollector {
	return &PendingCollector{broker: broker, desc: prometheus.NewDesc("parley_stream_pending_entries",
		"Stream entries delivered to this node and not yet acknowledged.", []string{"stream"}, nil)}
}

func (c *PendingCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *PendingCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	pending, err := c.broker.PendingEntries(ctx)
	if err != nil {
		return // absent while Redis is unreachable; /readyz says why
	}
	for stream, n := range pending {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), stream)
	}
}
