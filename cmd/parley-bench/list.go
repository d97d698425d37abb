package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/parleyhq/parley/gen/api"
)

// listPageSize is the page the list requests ask for.
const listPageSize = 50

// listRun is one measurement of the reader's conversation list.
type listRun struct {
	b      *bench
	unread map[string]int64 // what each conversation's unread count must be, by id
	page   int              // how many conversations each page must hold
	total  int64            // the page's unread counts summed, when the page holds them all
	wrong  atomic.Int64     // pages whose conversations or counts were not the expected
	errs   errorTally
}

func (b *bench) runList(ctx context.Context) error {
	b.corpus = newCorpus()
	if err := b.prepareSeeded(ctx); err != nil {
		return err
	}
	if err := b.seedMessages(ctx, int64(len(b.convs))*int64(b.cfg.unread)); err != nil {
		return err
	}
	if b.cfg.markRead {
		if err := b.markAllRead(ctx); err != nil {
			return err
		}
	}
	// Every message is another member's: all are unread until the reader marks them read.
	l := &listRun{b: b, unread: map[string]int64{}, page: min(len(b.convs), listPageSize), total: -1}
	least, most := int64(-1), int64(0)
	var sum, held int64
	for _, conv := range b.convs {
		unread := conv.held
		if b.cfg.markRead {
			unread = 0
		}
		l.unread[conv.idStr] = unread
		sum += unread
		held += conv.held
		most = max(most, unread)
		if least < 0 || unread < least {
			least = unread
		}
	}
	if len(b.convs) <= listPageSize {
		l.total = sum
	}
	b.out.linef("reader's conversations", "%d, each with %d–%d unread messages from another member (%d messages in all)", len(b.convs), least, most, held)
	b.logf("listing the reader's conversations, %d at a time: %s warmup, then %s measured", b.cfg.readers, b.cfg.warmup, b.cfg.duration)
	m, err := b.measureReads(ctx, l.reader)
	if err != nil {
		return err
	}
	return l.report(m)
}

// markAllRead has the reader mark every conversation read up to its last seq.
func (b *bench) markAllRead(ctx context.Context) error {
	err := parallel(ctx, len(b.convs), 8, func(ctx context.Context, j int) error {
		conv := b.convs[j]
		resp, err := b.api[0].MarkReadWithResponse(ctx, conv.id, api.MarkReadJSONRequestBody{Seq: conv.final.Load()}, b.auth(reader))
		if err != nil {
			return fmt.Errorf("mark read: %w", err)
		}
		if resp.JSON200 == nil {
			return fmt.Errorf("mark read: HTTP %d: %s", resp.StatusCode(), clip(resp.Body))
		}
		return nil
	})
	if err != nil {
		return err
	}
	b.out.line("marked read", "every conversation, up to its last seq")
	return nil
}

func (l *listRun) reader(*rand.Rand) func(ctx context.Context, inWindow bool) {
	return l.list
}

func (l *listRun) list(ctx context.Context, inWindow bool) {
	start := time.Now()
	resp, err := l.b.api[0].ListConversationsWithResponse(ctx, &api.ListConversationsParams{Limit: ptr(listPageSize)}, l.b.auth(reader))
	took := time.Since(start)
	if !inWindow || ctx.Err() != nil {
		return
	}
	switch {
	case err != nil:
		l.errs.add(l.b, "transport error", err.Error())
		return
	case resp.JSON200 == nil:
		l.errs.add(l.b, fmt.Sprintf("HTTP %d", resp.StatusCode()), clip(resp.Body))
		return
	}
	l.b.latency.record(took)
	if problem := l.check(*resp.JSON200); problem != "" {
		if l.wrong.Add(1) == 1 {
			l.b.logf("wrong page: %s", problem)
		}
	}
}

// check says what is wrong with a page of the reader's conversations, if anything.
func (l *listRun) check(page api.ConversationPage) string {
	if len(page.Items) != l.page {
		return fmt.Sprintf("%d conversations, want %d", len(page.Items), l.page)
	}
	var sum int64
	for _, s := range page.Items {
		want, ok := l.unread[s.Id.String()]
		switch {
		case !ok:
			return fmt.Sprintf("conversation %s is not the reader's", s.Id)
		case s.UnreadCount != want:
			return fmt.Sprintf("conversation %s: unread_count %d, want %d", s.Id, s.UnreadCount, want)
		case s.UnreadMentionCount != 0:
			return fmt.Sprintf("conversation %s: unread_mention_count %d, want 0", s.Id, s.UnreadMentionCount)
		}
		sum += s.UnreadCount
	}
	if l.total >= 0 && sum != l.total {
		return fmt.Sprintf("unread counts sum to %d, want %d", sum, l.total)
	}
	return ""
}

func (l *listRun) report(m sendingWindow) error {
	b, r := l.b, l.b.out
	window := m.window.Seconds()
	n := b.latency.count()
	r.linef("readers", "%d at a time, %d conversations a page asked for", b.cfg.readers, listPageSize)
	r.linef("window", "%.1f s after %s warmup", window, b.cfg.warmup)
	r.linef("lists in window", "%d (%.0f/s), errors %d", n, float64(n)/window, l.errs.total.Load())
	latencyLines(r, "list latency", b.latency)
	r.linef("pages with wrong conversations or unread counts", "%d", l.wrong.Load())
	b.serverCPUPer(m, "list", n)
	l.errs.lines(r, "list errors")
	p95 := b.latency.quantile(.95)
	verdict := "met"
	if n == 0 || p95 > 10*time.Millisecond {
		verdict = fmt.Sprintf("missed (p95 %s)", ms(p95))
	}
	r.line("target (p95 ≤ 10 ms)", verdict)
	if l.wrong.Load() > 0 || n == 0 {
		return fmt.Errorf("list check failed: %d wrong pages, %d answered", l.wrong.Load(), n)
	}
	return nil
}
