package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parleyhq/parley/gen/api"
)

// seedMaxFailures is how many seeded sends may fail (after their retries) before seeding stops.
const seedMaxFailures = 100

// prepareSeeded finds the conversations an earlier run of the same --run-id created, with how
// many messages each holds, creates those it did not, and waits for the outbox.
func (b *bench) prepareSeeded(ctx context.Context) error {
	start := time.Now()
	b.logf("looking for the %d conversations of run %s; creating those not found", len(b.convs), b.cfg.runID)
	var found atomic.Int64
	err := parallel(ctx, len(b.convs), 8, func(ctx context.Context, j int) error {
		conv := b.convs[j]
		switch ok, err := b.findConv(ctx, conv); {
		case err != nil:
			return err
		case ok:
			found.Add(1)
			return nil
		}
		return b.createConv(ctx, conv)
	})
	if err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	n := found.Load()
	b.out.linef("conversations", "%d (%d found from an earlier run of this id, %d created)", len(b.convs), n, int64(len(b.convs))-n)
	b.out.linef("setup", "%.1f s", time.Since(start).Seconds())
	return b.waitOutbox(ctx)
}

// findConv looks for conv among its creator's conversations, by its title. Found, it learns the
// conversation's id, its seq before the first message (base) and how many messages it holds:
// nothing but messages is added to it after it is set up.
func (b *bench) findConv(ctx context.Context, conv *benchConv) (bool, error) {
	creator, node := conv.members[0], conv.index%len(b.cfg.urls)
	title := fmt.Sprintf("bench %s #%d", b.cfg.runID, conv.index)
	params := &api.ListConversationsParams{Limit: ptr(50)}
	for {
		page, err := b.api[node].ListConversationsWithResponse(ctx, params, b.auth(creator))
		if err := answered(page, err, "list conversations"); err != nil {
			return false, err
		}
		for _, s := range page.JSON200.Items {
			if s.Title == nil || *s.Title != title {
				continue
			}
			conv.id, conv.idStr = s.Id, s.Id.String()
			first, err := b.api[node].ListMessagesWithResponse(ctx, conv.id, &api.ListMessagesParams{AfterSeq: ptr(int64(0)), Limit: ptr(1)}, b.auth(creator))
			if err := answered(first, err, "list messages"); err != nil {
				return false, err
			}
			conv.base = s.LastSeq
			if len(first.JSON200.Items) > 0 {
				conv.base = first.JSON200.Items[0].Seq - 1
			}
			conv.held = s.LastSeq - conv.base
			return true, nil
		}
		if page.JSON200.NextCursor == nil {
			return false, nil
		}
		params.Cursor = page.JSON200.NextCursor
	}
}

// seedPlan is how many messages conversation j gets of total: message i goes to conversation
// i mod convs.
func seedPlan(total int64, convs, j int) int64 {
	n := total / int64(convs)
	if int64(j) < total%int64(convs) {
		n++
	}
	return n
}

// seedMessages sends total messages of the corpus, message i into conversation i mod convs from
// its senders in turn, skipping those its conversation already holds; it logs its progress
// every 5 s, then checks what the conversations hold and waits for the outbox.
func (b *bench) seedMessages(ctx context.Context, total int64) error {
	convs := int64(len(b.convs))
	var missing int64
	for j, conv := range b.convs {
		missing += max(0, seedPlan(total, len(b.convs), j)-conv.held)
	}
	if missing == 0 {
		what := fmt.Sprintf("nothing to send: the conversations hold the %d messages already", total)
		if total == 0 {
			what = "nothing: no messages asked for"
		}
		b.out.line("seeded", what)
		return b.checkSeeded(ctx, total)
	}
	b.logf("seeding %d messages (%d held already) with %d senders", missing, total-missing, b.cfg.senders)
	start := time.Now()
	var sent, failed atomic.Int64
	stop := b.every(5*time.Second, func() {
		n := sent.Load()
		b.logf("seeded %d/%d (%.0f/s), failed %d", n, missing, float64(n)/time.Since(start).Seconds(), failed.Load())
	})
	err := parallel(ctx, int(total), b.cfg.senders, func(ctx context.Context, k int) error {
		i := int64(k)
		conv, turn := b.convs[i%convs], i/convs
		if turn < conv.held {
			return nil
		}
		if err := b.seedOne(ctx, conv, i, turn); err != nil {
			if failed.Add(1) > seedMaxFailures {
				return fmt.Errorf("seeding: more than %d sends failed; the last: %w", seedMaxFailures, err)
			}
			b.logf("seeding: %v", err)
			return nil
		}
		sent.Add(1)
		return nil
	})
	stop()
	took := time.Since(start)
	b.out.linef("seeded", "%d messages in %.1f s (%.0f/s, %d senders), failed %d", sent.Load(), took.Seconds(), float64(sent.Load())/took.Seconds(), b.cfg.senders, failed.Load())
	if err != nil {
		return err
	}
	return b.checkSeeded(ctx, total)
}

// seedOne sends message i, the turn-th of its conversation, trying again after a transport error,
// a 429 or a 5xx: a repeated client_msg_id returns the message stored the first time.
func (b *bench) seedOne(ctx context.Context, conv *benchConv, i, turn int64) error {
	senders := conv.senders()
	sender := senders[turn%int64(len(senders))]
	client := b.api[turn%int64(len(b.api))]
	body := api.SendMessageJSONRequestBody{ClientMsgId: fmt.Sprintf("%s-s%d", b.cfg.runID, i), Body: b.corpus.body(i)}
	var err error
	for attempt := range 3 {
		if attempt > 0 {
			if err := sleepCtx(ctx, time.Duration(attempt)*250*time.Millisecond); err != nil {
				return err
			}
		}
		var resp *api.SendMessageResponse
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		resp, err = client.SendMessageWithResponse(rctx, conv.id, body, b.auth(sender))
		cancel()
		switch {
		case err != nil:
			err = fmt.Errorf("send %d: %w", i, err)
		case resp.JSON201 != nil || resp.JSON200 != nil:
			return nil
		case resp.StatusCode() == 429 || resp.StatusCode() >= 500:
			err = fmt.Errorf("send %d: HTTP %d: %s", i, resp.StatusCode(), clip(resp.Body))
		default:
			return fmt.Errorf("send %d: HTTP %d: %s", i, resp.StatusCode(), clip(resp.Body))
		}
		if ctx.Err() != nil {
			return err
		}
	}
	return err
}

// checkSeeded reads every conversation's last seq and checks that it holds what the plan gives
// it, then waits until the outbox has published the seeded events.
func (b *bench) checkSeeded(ctx context.Context, total int64) error {
	if err := b.fetchFinals(ctx); err != nil {
		return err
	}
	var held, readers int64
	var short []error
	for j, conv := range b.convs {
		conv.held = conv.final.Load() - conv.base
		held += conv.held
		if slices.Contains(conv.members, reader) {
			readers += conv.held
		}
		if want := seedPlan(total, len(b.convs), j); conv.held < want {
			short = append(short, fmt.Errorf("conversation %d holds %d messages, not %d", j, conv.held, want))
		}
	}
	b.out.linef("messages held", "%d (%d in the reader's conversations)", held, readers)
	if len(short) > 0 {
		return errors.Join(append([]error{errors.New("seeding incomplete")}, short[:min(len(short), 5)]...)...)
	}
	return b.waitOutboxWithin(ctx, 10*time.Minute)
}

// every calls fn every d until the returned stop is called; stop waits for the last call.
func (b *bench) every(d time.Duration, fn func()) (stop func()) {
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				fn()
			}
		}
	})
	return func() {
		close(quit)
		wg.Wait()
	}
}
