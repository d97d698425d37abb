package notify

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/parleyhq/parley/gen/db"
)

// Outcomes of one POST, the values of parley_webhook_attempts_total's outcome label.
const (
	outcomeOK              = "ok"
	outcomeHTTPError       = "http_error"
	outcomeTimeout         = "timeout"
	outcomeConnectionError = "connection_error"
)

// Metrics are the webhook sender's own metrics.
type Metrics struct {
	attempts    *prometheus.CounterVec
	deadLetters prometheus.Counter
	latency     prometheus.Histogram
}

// NewMetrics registers the sender's metrics on reg, and a collector that reads the backlog
// through pool when scraped.
func NewMetrics(reg prometheus.Registerer, pool *pgxpool.Pool) *Metrics {
	m := &Metrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_webhook_attempts_total",
			Help: "Webhook POSTs by outcome: ok (2xx), http_error (another status), timeout, connection_error.",
		}, []string{"outcome"}),
		deadLetters: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_webhook_dead_letters_total",
			Help: "Webhooks moved to the dead letters by this node after failing for the whole retry period.",
		}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "parley_webhook_delivery_seconds",
			Help:    "Time from a webhook's hand-off to the receiver's acknowledgement, retries included.",
			Buckets: prometheus.ExponentialBuckets(0.005, 4, 12), // 5 ms to about a day
		}),
	}
	for _, o := range []string{outcomeOK, outcomeHTTPError, outcomeTimeout, outcomeConnectionError} {
		m.attempts.WithLabelValues(o) // present at zero, so rates work from the start
	}
	reg.MustRegister(m.attempts, m.deadLetters, m.latency, newBacklogCollector(db.New(pool)))
	return m
}

// backlogCollector reports the webhook work waiting in PostgreSQL when Prometheus scrapes.
type backlogCollector struct {
	q                             backlogQuerier
	pending, age, dead, notifyJob *prometheus.Desc
}

type backlogQuerier interface {
	WebhookBacklog(ctx context.Context) (db.WebhookBacklogRow, error)
}

func newBacklogCollector(q backlogQuerier) *backlogCollector {
	return &backlogCollector{
		q:         q,
		pending:   prometheus.NewDesc("parley_webhook_backlog", "Webhooks waiting to be sent or retried.", nil, nil),
		age:       prometheus.NewDesc("parley_webhook_oldest_age_seconds", "Age of the oldest webhook not yet acknowledged.", nil, nil),
		dead:      prometheus.NewDesc("parley_webhook_dead_letters", "Webhooks in the dead letters (parley webhooks list).", nil, nil),
		notifyJob: prometheus.NewDesc("parley_notify_jobs_pending", "New messages whose notifications are not decided yet.", nil, nil),
	}
}

func (c *backlogCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.pending
	ch <- c.age
	ch <- c.dead
	ch <- c.notifyJob
}

func (c *backlogCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	b, err := c.q.WebhookBacklog(ctx)
	if err != nil {
		return // absent while PostgreSQL is unreachable; /readyz says why
	}
	ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(b.Pending))
	ch <- prometheus.MustNewConstMetric(c.age, prometheus.GaugeValue, b.OldestAgeSeconds)
	ch <- prometheus.MustNewConstMetric(c.dead, prometheus.GaugeValue, float64(b.DeadLetters))
	ch <- prometheus.MustNewConstMetric(c.notifyJob, prometheus.GaugeValue, float64(b.NotifyJobs))
}
