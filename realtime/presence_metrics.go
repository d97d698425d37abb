package realtime

import "github.com/prometheus/client_golang/prometheus"

// presenceMetrics are presence's instruments, on the server's own registry with the others.
type presenceMetrics struct {
	// subscriptions counts connections watching someone's presence, watched the users they
	// watch (a user watched by two connections counts twice).
	subscriptions, watched prometheus.Gauge
	online, offline        prometheus.Counter
	frames                 *prometheus.CounterVec
	redisErrors            *prometheus.CounterVec
}

func newPresenceMetrics(reg prometheus.Registerer) *presenceMetrics {
	transitions := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "parley_presence_transitions_total",
		Help: "Users going online on this node (their first connection here) or offline (the grace after their last ended, or their node's lease lapsed), by status.",
	}, []string{"status"})
	m := &presenceMetrics{
		subscriptions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "parley_presence_subscriptions", Help: "Connections on this node watching presence (presence.subscribe with at least one user).",
		}),
		watched: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "parley_presence_watched_users", Help: "Users watched by this node's connections, summed over connections.",
		}),
		online:  transitions.WithLabelValues("online"),
		offline: transitions.WithLabelValues("offline"),
		frames: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_presence_frames_total", Help: "Presence frames queued to connections, by kind (full: the answer to presence.subscribe; change: a coalesced change).",
		}, []string{"kind"}),
		redisErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_presence_redis_errors_total", Help: "Presence's Redis commands that failed, by what they were for; presence runs on this node's view meanwhile.",
		}, []string{"op"}),
	}
	reg.MustRegister(m.subscriptions, m.watched, transitions, m.frames, m.redisErrors)
	return m
}
