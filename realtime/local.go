package realtime

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/parleyhq/parley/internal/lifecycle"
)

// LocalBroker carries events from the dispatcher to the hub of a single node without Redis, a
// lifecycle service. Publish queues a batch and returns; a goroutine of the broker hands it to the
// hub, outside the dispatcher's transaction, as the Redis consumer does between nodes. A batch
// the hub refuses is tried again until it is taken, so batches keep their order.
type LocalBroker struct {
	sink   Sink
	queue  chan []Envelope
	logger *slog.Logger
	life   lifecycle.Base
}

// localQueueBatches bounds what the dispatcher may publish ahead of the hub.
const localQueueBatches = 64

// NewLocalBroker returns a stopped broker that delivers to sink.
func NewLocalBroker(sink Sink, logger *slog.Logger) *LocalBroker {
	return &LocalBroker{sink: sink, queue: make(chan []Envelope, localQueueBatches), logger: logger}
}

// Start starts delivering.
func (b *LocalBroker) Start(context.Context) error {
	return b.life.Start("local broker", func(run *lifecycle.Run) error {
		run.Go(b.deliver)
		return nil
	})
}

// Stop ends delivering and waits. What is still queued is dropped: the node's connections close
// as it stops, and their clients resume from the log.
func (b *LocalBroker) Stop(ctx context.Context) error { return b.life.Stop(ctx, nil) }

var errBrokerStopped = errors.New("broker is not running")

// Publish queues the batch for the hub; it waits while the queue is full.
func (b *LocalBroker) Publish(ctx context.Context, batch []Envelope) error {
	run := b.life.Running()
	if run == nil {
		return errBrokerStopped
	}
	select {
	case b.queue <- batch:
		return nil
	case <-run.Context().Done():
		return errBrokerStopped
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (b *LocalBroker) deliver(ctx context.Context) {
	retry := newBackoff(100*time.Millisecond, 5*time.Second)
	for {
		select {
		case <-ctx.Done():
			return
		case batch := <-b.queue:
			for {
				err := b.sink.Deliver(ctx, batch)
				if err == nil || ctx.Err() != nil {
					break
				}
				b.logger.Warn("local broker: deliver to hub", "error", err)
				retry.wait(ctx)
			}
			retry.reset()
		}
	}
}
