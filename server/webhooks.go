package server

import (
	"time"

	"github.com/parleyhq/parley/internal/lifecycle"
	"github.com/parleyhq/parley/notify"
	"github.com/parleyhq/parley/realtime"
)

// webhookParts are what a node runs for webhooks and notification requests: the hand-off the
// dispatcher calls in its transaction, and the services, in the order they start (the receipts'
// flusher, the shard leases, the sender, the notification decider).
type webhookParts struct {
	handOff  realtime.HandOff // nil without webhooks
	services []lifecycle.Service
}

// receiptFlush is how often a node writes its sockets' receipts to Redis; the decider waits
// settleFlushes of them past a message's notification delay, so the receipts of the delay's last
// moments are there when it asks.
const (
	receiptFlush  = 250 * time.Millisecond
	settleFlushes = 4
)

// newWebhookParts builds the webhook path over the hub, started by nothing yet; nothing without a
// webhook URL.
func (s *Server) newWebhookParts(hub *realtime.Hub) (webhookParts, error) {
	cfg := s.cfg.Webhook
	if !cfg.Enabled() {
		return webhookParts{}, nil
	}
	cfg.NodeID = s.cfg.Redis.NodeID
	var parts webhookParts
	leases := notify.NewLeases(cfg, s.pool, s.logger)
	sender, err := notify.NewSender(cfg, s.pool, leases, notify.NewMetrics(s.registry, s.pool), s.logger)
	if err != nil {
		return webhookParts{}, err
	}
	parts.handOff = notify.NewHandOff(cfg, sender.Wake)
	services := []lifecycle.Service{leases, sender}
	if cfg.Wants(notify.NotificationRequested) {
		keep := cfg.NotifyDelay + notify.ReceiptKeep
		var receipts notify.ReceiptBook
		var settle time.Duration
		if s.redis != nil {
			book := notify.NewRedisReceipts(s.redis, s.cfg.Redis.Namespace, keep, receiptFlush, s.logger)
			receipts, settle = book, settleFlushes*receiptFlush
			services = append([]lifecycle.Service{book}, services...)
		} else {
			receipts = notify.NewMemoryReceipts(keep, time.Now)
		}
		hub.SetReceipts(receipts)
		services = append(services, notify.NewDecider(cfg, s.pool, receipts, leases, settle, sender.Wake, s.registry, s.logger))
	}
	parts.services = services
	return parts, nil
}
