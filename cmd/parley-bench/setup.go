package main

import (
	"context"
	"fmt"
	"time"

	"github.com/parleyhq/parley/gen/api"
)

// setup creates the conversations through the HTTP API and waits until the outbox has published
// the membership events, so that they do not mingle with the measurement.
func (b *bench) setup(ctx context.Context) error {
	start := time.Now()
	b.logf("creating %d conversations for %d users", len(b.convs), len(b.tokens))
	err := parallel(ctx, len(b.convs), 8, func(ctx context.Context, j int) error {
		return b.createConv(ctx, b.convs[j])
	})
	if err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	members := len(b.tokens) / len(b.convs)
	b.out.linef("conversations", "%d (%d members each%s)", len(b.convs), members, map[bool]string{true: ", some one more", false: ""}[len(b.tokens)%len(b.convs) != 0])
	b.out.linef("setup", "%.1f s", time.Since(start).Seconds())
	return b.waitOutbox(ctx)
}

func (b *bench) createConv(ctx context.Context, conv *benchConv) error {
	client := b.api[conv.index%len(b.api)]
	creator := conv.members[0]
	others := make([]string, 0, len(conv.members)-1)
	for _, k := range conv.members[1:] {
		others = append(others, b.cfg.userID(k))
	}
	first := others[:min(len(others), 100)]
	title := fmt.Sprintf("bench %s #%d", b.cfg.runID, conv.index)
	resp, err := client.CreateConversationWithResponse(ctx, api.CreateConversationJSONRequestBody{
		Type: api.ConversationTypeGroup, Title: &title, MemberIds: first,
	}, b.auth(creator))
	if err != nil {
		return fmt.Errorf("create conversation: %w", err)
	}
	if resp.JSON201 == nil {
		return fmt.Errorf("create conversation: HTTP %d: %s", resp.StatusCode(), resp.Body)
	}
	conv.id = resp.JSON201.Id
	conv.idStr = conv.id.String()
	for _, user := range others[len(first):] {
		resp, err := client.AddMemberWithResponse(ctx, conv.id, api.AddMemberJSONRequestBody{UserId: user}, b.auth(creator))
		if err != nil {
			return fmt.Errorf("add member: %w", err)
		}
		if resp.JSON201 == nil {
			return fmt.Errorf("add member: HTTP %d: %s", resp.StatusCode(), resp.Body)
		}
	}
	last, err := b.lastSeq(ctx, conv)
	if err != nil {
		return err
	}
	conv.base = last
	return nil
}

func (b *bench) lastSeq(ctx context.Context, conv *benchConv) (int64, error) {
	resp, err := b.api[conv.index%len(b.api)].GetConversationWithResponse(ctx, conv.id, b.auth(conv.members[0]))
	if err != nil {
		return 0, fmt.Errorf("get conversation: %w", err)
	}
	if resp.JSON200 == nil {
		return 0, fmt.Errorf("get conversation: HTTP %d: %s", resp.StatusCode(), resp.Body)
	}
	return resp.JSON200.LastSeq, nil
}

// fetchFinals reads every conversation's last seq: what each member must have received.
func (b *bench) fetchFinals(ctx context.Context) error {
	return parallel(ctx, len(b.convs), 8, func(ctx context.Context, j int) error {
		last, err := b.lastSeq(ctx, b.convs[j])
		if err != nil {
			return err
		}
		b.convs[j].final.Store(last)
		return nil
	})
}

// waitOutbox waits until no server has events waiting in the outbox, then a little longer for the
// hubs to hand them out.
func (b *bench) waitOutbox(ctx context.Context) error { return b.waitOutboxWithin(ctx, 60*time.Second) }

// waitOutboxWithin is waitOutbox with its own deadline: after a long seeding the outbox may be
// minutes behind.
func (b *bench) waitOutboxWithin(ctx context.Context, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		samples, err := b.scrapeAll(ctx)
		if err != nil {
			return err
		}
		pending := 0.0
		for _, s := range samples {
			if !s.hasBacklog {
				b.logf("%s reports no parley_outbox_backlog; waiting 1 s instead", b.cfg.urls[0])
				return sleepCtx(ctx, time.Second)
			}
			pending = max(pending, s.backlog)
		}
		if pending == 0 {
			return sleepCtx(ctx, 300*time.Millisecond)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("outbox still holds %.0f events after %s", pending, within)
		}
		if err := sleepCtx(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
}

func (b *bench) scrapeAll(ctx context.Context) ([]serverSample, error) {
	out := make([]serverSample, len(b.cfg.urls))
	err := parallel(ctx, len(b.cfg.urls), len(b.cfg.urls), func(ctx context.Context, i int) error {
		s, err := scrapeMetrics(ctx, b.httpc, b.cfg.urls[i])
		out[i] = s
		return err
	})
	return out, err
}
