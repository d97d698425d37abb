package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// hookReceiver is the webhook endpoint of the webhooks mode, on a local address the servers
// POST to (their --webhook-url). It checks what it gets as a receiver would: the signature (with
// --webhook-secret), and that each conversation's webhooks arrive in seq order; while down it
// answers 503.
type hookReceiver struct {
	srv    *http.Server
	verify *standardwebhooks.Webhook
	down   atomic.Bool

	received, dups, outOfOrder, badSignature, refused, other atomic.Int64

	mu              sync.Mutex
	convs           map[string]*hookConv
	firstOutOfOrder []string            // the first few, each followed by the id it overtook
	arrivals        map[string][]string // when and through which path each overtaken id arrived
}

// hookConv is what arrived of one conversation: every seq up to prefix, and some beyond.
type hookConv struct {
	base, prefix int64
	ahead        map[int64]bool
}

func startHookReceiver(addr, secret string) (*hookReceiver, error) {
	r := &hookReceiver{convs: map[string]*hookConv{}, arrivals: map[string][]string{}}
	if secret != "" {
		v, err := standardwebhooks.NewWebhook(secret)
		if err != nil && !strings.HasPrefix(secret, "whsec_") {
			v, err = standardwebhooks.NewWebhookRaw([]byte(secret))
		}
		if err != nil {
			return nil, fmt.Errorf("--webhook-secret: %w", err)
		}
		r.verify = v
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("webhook receiver: %w", err)
	}
	r.srv = &http.Server{Handler: http.HandlerFunc(r.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = r.srv.Serve(ln) }() // ends with close
	return r, nil
}

func (r *hookReceiver) close() { _ = r.srv.Close() }

// track starts checking the conversation's webhooks after seq base (those of the setup may or may
// not be sent, depending on the servers' --webhook-events).
func (r *hookReceiver) track(id string, base int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.convs[id] = &hookConv{base: base, prefix: base, ahead: map[int64]bool{}}
}

func (r *hookReceiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if r.down.Load() {
		r.refused.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	if r.verify != nil && r.verify.Verify(body, req.Header) != nil {
		r.badSignature.Add(1)
	}
	r.note(req.Header.Get("webhook-id"), req.URL.Path)
	w.WriteHeader(http.StatusNoContent)
}

// note records the arrival of webhook id, <conversation_id>:<seq> for an event.
func (r *hookReceiver) note(id, path string) {
	conv, seqText, ok := strings.Cut(id, ":")
	seq, err := strconv.ParseInt(seqText, 10, 64)
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.convs[conv]
	if !ok || err != nil || c == nil {
		r.other.Add(1) // another run's conversation, or a notification request
		return
	}
	if seq <= c.base {
		return
	}
	if _, watched := r.arrivals[id]; watched {
		r.arrivals[id] = append(r.arrivals[id], time.Now().Format("15:04:05.000")+" via "+path)
	}
	r.received.Add(1)
	switch {
	case seq <= c.prefix || c.ahead[seq]:
		r.dups.Add(1)
	case seq == c.prefix+1:
		c.prefix++
		for c.ahead[c.prefix+1] {
			delete(c.ahead, c.prefix+1)
			c.prefix++
		}
	default:
		if r.outOfOrder.Add(1) <= 5 { // remember it, and watch for the one it overtook
			prev := fmt.Sprintf("%s:%d", conv, seq-1)
			r.firstOutOfOrder = append(r.firstOutOfOrder, fmt.Sprintf("%s at %s (after %d, via %s)", id, time.Now().Format("15:04:05.000"), c.prefix, path), prev)
			r.arrivals[prev] = []string{}
		}
		c.ahead[seq] = true
	}
}

// missing is how many webhooks of the tracked conversations have not arrived, given their last
// seqs.
func (r *hookReceiver) missing(finals map[string]int64) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var n int64
	for id, final := range finals {
		if c := r.convs[id]; c != nil && final > c.prefix {
			n += final - c.prefix - int64(len(c.ahead))
		}
	}
	return n
}

func (b *bench) finals() map[string]int64 {
	out := make(map[string]int64, len(b.convs))
	for _, c := range b.convs {
		out[c.idStr] = c.final.Load()
	}
	return out
}

// waitWebhooks waits until every event of the run arrived at the receiver, up to within, and
// returns how long that took and how many are still missing.
func (b *bench) waitWebhooks(ctx context.Context, recv *hookReceiver, within time.Duration) (time.Duration, int64, error) {
	if err := b.fetchFinals(ctx); err != nil {
		return 0, 0, err
	}
	finals := b.finals()
	start := time.Now()
	for {
		missing := recv.missing(finals)
		if missing == 0 || time.Since(start) > within {
			return time.Since(start), missing, nil
		}
		if err := sleepCtx(ctx, 20*time.Millisecond); err != nil {
			return 0, missing, err
		}
	}
}

func (b *bench) runWebhooks(ctx context.Context) error {
	recv, err := startHookReceiver(b.cfg.webhookListen, b.cfg.webhookSecret)
	if err != nil {
		return err
	}
	defer recv.close()
	b.logf("webhook receiver on http://%s (start the servers with --webhook-url pointing there)", b.cfg.webhookListen)
	if err := b.setup(ctx); err != nil {
		return err
	}
	for _, c := range b.convs {
		recv.track(c.idStr, c.base)
	}
	r := b.out

	// Sustained: the senders as fast as they go (or at --rate), the receiver always up.
	b.logf("%d senders into %d conversations: %s warmup, then %s measured", b.cfg.senders, b.cfg.convs, b.cfg.warmup, b.cfg.duration)
	stop := b.startSenders(ctx, b.cfg.senders, b.cfg.rate, 0)
	if err := sleepCtx(ctx, b.cfg.warmup); err != nil {
		stop()
		return err
	}
	before, err := b.scrapeAll(ctx)
	if err != nil {
		stop()
		return err
	}
	hooks0, sent0 := recv.received.Load(), b.stats.sentOK.Load()
	start := b.openWindow()
	err = sleepCtx(ctx, b.cfg.duration)
	window := b.closeWindow().Sub(start).Seconds()
	hooks1, sent1 := recv.received.Load(), b.stats.sentOK.Load()
	stop()
	if err != nil {
		return err
	}
	after, err := b.scrapeAll(ctx)
	if err != nil {
		return err
	}
	r.linef("senders", "%d, %s", b.cfg.senders, map[bool]string{true: "as fast as they go", false: fmt.Sprintf("at %.0f/s", b.cfg.rate)}[b.cfg.rate == 0])
	r.linef("window", "%.1f s after %s warmup", window, b.cfg.warmup)
	r.linef("durable sends", "%d (%.0f/s), send errors %d", sent1-sent0, float64(sent1-sent0)/window, b.stats.windowErr.Load())
	latencyLines(r, "send POST latency", b.post)
	r.linef("webhooks delivered in window", "%d (%.0f/s)", hooks1-hooks0, float64(hooks1-hooks0)/window)
	b.reportServers(before, after, 0, -1)
	took, missing, err := b.waitWebhooks(ctx, recv, 5*time.Minute)
	if err != nil {
		return err
	}
	r.linef("webhook backlog drained after the senders stopped", "%.2f s (%d missing)", took.Seconds(), missing)
	if missing > 0 {
		return b.webhookVerdict(recv, missing)
	}

	if b.cfg.outage > 0 {
		b.logf("receiver down (503) for %s while %d senders send at %.0f/s", b.cfg.outage, b.cfg.senders, b.cfg.outageRate)
		recv.down.Store(true)
		sentBefore := b.stats.sentOK.Load()
		stop := b.startSenders(ctx, b.cfg.senders, b.cfg.outageRate, 0)
		err := sleepCtx(ctx, b.cfg.outage)
		stop()
		if err != nil {
			return err
		}
		if err := b.fetchFinals(ctx); err != nil {
			return err
		}
		backlog := recv.missing(b.finals())
		recv.down.Store(false)
		b.logf("receiver up; waiting for the backlog of %d", backlog)
		took, missing, err = b.waitWebhooks(ctx, recv, 10*time.Minute)
		if err != nil {
			return err
		}
		r.linef("outage", "%s at %.0f sends/s: %d sent, %d POSTs refused", b.cfg.outage, b.cfg.outageRate, b.stats.sentOK.Load()-sentBefore, recv.refused.Load())
		r.linef("backlog drained after the receiver came back", "%.2f s for %d webhooks (%.0f/s), %d missing", took.Seconds(), backlog, float64(backlog)/took.Seconds(), missing)
	}
	return b.webhookVerdict(recv, missing)
}

func (b *bench) webhookVerdict(recv *hookReceiver, missing int64) error {
	r := b.out
	r.linef("webhooks received", "%d, duplicates %d, out of order %d, bad signatures %d, other ids %d",
		recv.received.Load(), recv.dups.Load(), recv.outOfOrder.Load(), recv.badSignature.Load(), recv.other.Load())
	b.reportSendErrors()
	var errs []error
	if missing > 0 {
		errs = append(errs, fmt.Errorf("%d webhooks never arrived", missing))
	}
	if n := recv.outOfOrder.Load(); n > 0 {
		recv.mu.Lock()
		for i := 0; i+1 < len(recv.firstOutOfOrder); i += 2 {
			prev := recv.firstOutOfOrder[i+1]
			r.linef("webhook out of order", "%s; %s arrived %v", recv.firstOutOfOrder[i], prev, recv.arrivals[prev])
		}
		recv.mu.Unlock()
		errs = append(errs, fmt.Errorf("%d webhooks out of seq order", n))
	}
	if n := recv.badSignature.Load(); n > 0 {
		errs = append(errs, fmt.Errorf("%d webhooks with a bad signature", n))
	}
	return errors.Join(errs...)
}
