package realtime

import (
	"context"
	"errors"
	"sync/atomic"
)

// LocalBroker is the broker of a single node without Redis: it hands what it is given straight to
// the node's hub.
type LocalBroker struct {
	sink atomic.Pointer[Sink]
}

// NewLocalBroker returns a broker that delivers once Attach has named the hub.
func NewLocalBroker() *LocalBroker { return &LocalBroker{} }

// Attach names the sink; until then Publish fails, so the outbox keeps its rows.
func (b *LocalBroker) Attach(sink Sink) { b.sink.Store(&sink) }

var errNoSink = errors.New("broker has no hub attached")

func (b *LocalBroker) Publish(ctx context.Context, batch []Envelope) error {
	sink := b.sink.Load()
	if sink == nil {
		return errNoSink
	}
	return (*sink).Deliver(ctx, batch)
}

func (b *LocalBroker) Signal(_ context.Context, s Signal) error {
	sink := b.sink.Load()
	if sink == nil {
		return errNoSink
	}
	(*sink).DeliverSignal(s)
	return nil
}
