package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/parleyhq/parley/gen/api"
)

// reactionEmoji are the reactions the members choose from, member i the i-th mod their number:
// plain, with a variation selector, with a skin tone, and a shortcode.
var reactionEmoji = []string{"👍", "❤️", "😂", "🎉", "👍🏽", ":parrot:"}

// reactionBurst is what one burst of reactions gave: who was answered 204, and when the PUTs
// started and ended.
type reactionBurst struct {
	accepted            []atomic.Bool // by member position
	ok                  atomic.Int64
	errs                errorTally
	mu                  sync.Mutex
	lastStart, lastDone time.Time
}

func (b *bench) runReactions(ctx context.Context) error {
	b.reactedAt = make(map[string]*atomic.Int64, len(b.tokens))
	for k := range b.tokens {
		b.reactedAt[b.cfg.userID(k)] = new(atomic.Int64)
	}
	up, _, err := b.connectMeasured(ctx)
	if err != nil {
		return err
	}
	defer b.closeConns(up)
	if len(up) != b.cfg.conns {
		return fmt.Errorf("only %d of %d members connected: every member's connection is checked", len(up), b.cfg.conns)
	}
	conv := b.convs[0]
	seq, err := b.sendOneMessage(ctx, conv)
	if err != nil {
		return err
	}
	conv.final.Store(seq)
	if lost, _ := b.waitDelivered(ctx, up); lost > 0 {
		return fmt.Errorf("the message did not reach %d connections within %s", lost, b.cfg.drain)
	}
	before, err := b.scrapeAll(ctx)
	if err != nil {
		return err
	}
	frames0, self0 := b.stats.eventFrames.Load(), benchSelfCPU()
	b.logf("%d members react to message %d at %.0f/s, %d at a time", len(conv.members), seq, b.cfg.rate, b.cfg.senders)
	start := b.openWindow()
	burst, err := b.react(ctx, conv, seq)
	b.closeWindow()
	if err != nil {
		return err
	}
	if err := b.fetchFinals(ctx); err != nil {
		return err
	}
	lost, drained := b.waitDelivered(ctx, up)
	frames, self := b.stats.eventFrames.Load()-frames0, time.Duration(-1)
	if self0 >= 0 {
		self = benchSelfCPU() - self0
	}
	after, err := b.scrapeAll(ctx)
	if err != nil {
		return err
	}
	problems := b.reportReactions(ctx, up, conv, seq, burst, start, drained)
	b.reportServers(before, after, frames, self)
	err = b.verdict(up, lost)
	if len(problems) > 0 {
		err = errors.Join(err, errors.New("reaction check failed: "+strings.Join(problems, ", ")))
	}
	return err
}

// sendOneMessage sends the message the members react to, from the conversation's creator.
func (b *bench) sendOneMessage(ctx context.Context, conv *benchConv) (int64, error) {
	body := api.SendMessageJSONRequestBody{ClientMsgId: b.cfg.runID + "-react", Body: messageBody(time.Now().UnixNano(), b.cfg.bodyBytes)}
	resp, err := b.api[0].SendMessageWithResponse(ctx, conv.id, body, b.auth(conv.members[0]))
	if err != nil {
		return 0, fmt.Errorf("send the message: %w", err)
	}
	if resp.JSON201 == nil {
		return 0, fmt.Errorf("send the message: HTTP %d: %s", resp.StatusCode(), clip(resp.Body))
	}
	return resp.JSON201.Seq, nil
}

// react has every member PUT its reaction to message seq, at --rate, --senders at a time, each
// through the server it is connected to.
func (b *bench) react(ctx context.Context, conv *benchConv, seq int64) (*reactionBurst, error) {
	burst := &reactionBurst{accepted: make([]atomic.Bool, len(conv.members))}
	lim := rate.NewLimiter(rate.Limit(b.cfg.rate), 1)
	err := parallel(ctx, len(conv.members), b.cfg.senders, func(ctx context.Context, i int) error {
		if err := lim.Wait(ctx); err != nil {
			return err
		}
		user := conv.members[i]
		node := (user / len(b.convs)) % len(b.cfg.urls)
		emoji := reactionEmoji[i%len(reactionEmoji)]
		start := time.Now()
		b.reactedAt[b.cfg.userID(user)].Store(start.UnixNano())
		resp, err := b.api[node].AddReactionWithResponse(ctx, conv.id, seq, emoji, b.auth(user))
		done := time.Now()
		burst.mu.Lock()
		if start.After(burst.lastStart) {
			burst.lastStart = start
		}
		if done.After(burst.lastDone) {
			burst.lastDone = done
		}
		burst.mu.Unlock()
		switch {
		case err != nil:
			burst.errs.add(b, "transport error", err.Error())
		case resp.StatusCode() != http.StatusNoContent:
			burst.errs.add(b, fmt.Sprintf("HTTP %d", resp.StatusCode()), fmt.Sprintf("%s: %s", emoji, clip(resp.Body)))
		default:
			b.post.record(done.Sub(start))
			burst.accepted[i].Store(true)
			burst.ok.Add(1)
		}
		return nil
	})
	return burst, err
}

// reportReactions prints what the burst gave, what was stored and what the connections got, and
// returns what was wrong.
func (b *bench) reportReactions(ctx context.Context, up []*benchConn, conv *benchConv, seq int64, burst *reactionBurst, start time.Time, drained time.Duration) []string {
	r := b.out
	ok := burst.ok.Load()
	r.linef("reactions", "%d PUTs of %d emoji to one message, %d answered 204, errors %d", len(conv.members), len(reactionEmoji), ok, burst.errs.total.Load())
	r.linef("PUTs started over", "%.2f s (at %.0f/s, %d at a time); the last answered after %.2f s", burst.lastStart.Sub(start).Seconds(), b.cfg.rate, b.cfg.senders, burst.lastDone.Sub(start).Seconds())
	latencyLines(r, "reaction PUT latency", b.post)
	latencyLines(r, "reaction PUT→deliver latency", b.latency)
	want := int64(len(up)) * ok
	r.linef("reaction.added received", "%d (want %d: %d connections × %d)", b.stats.reactionEvents.Load(), want, len(up), ok)
	var wrongConns int
	for _, c := range up {
		if c.reactions.Load() != ok {
			wrongConns++
		}
	}
	r.linef("connections without every reaction.added once", "%d", wrongConns)
	r.linef("drain after the last PUT", "%.2f s", drained.Seconds())
	burst.errs.lines(r, "reaction errors")

	var problems []string
	if wrongConns > 0 {
		problems = append(problems, fmt.Sprintf("%d connections without every reaction.added once", wrongConns))
	}
	if n := int64(len(conv.members)) - ok; n > 0 {
		problems = append(problems, fmt.Sprintf("%d reactions refused", n))
	}
	stored, err := b.storedReactions(ctx, conv, seq, burst)
	if err != nil {
		return append(problems, err.Error())
	}
	r.line("reactions stored", stored.line())
	return append(problems, stored.problems(ok)...)
}

// storedReactions are what the server holds after the burst: the message's counts by emoji,
// and the users GET …/reactions/{emoji} lists.
type storedReactions struct {
	counts   map[string]int64
	listed   map[string]int // user → times listed
	byEmoji  map[string]int64
	unwanted int // listed users whose PUT was not accepted
}

func (b *bench) storedReactions(ctx context.Context, conv *benchConv, seq int64, burst *reactionBurst) (storedReactions, error) {
	s := storedReactions{counts: map[string]int64{}, listed: map[string]int{}, byEmoji: map[string]int64{}}
	creator := conv.members[0]
	msgs, err := b.api[0].ListMessagesWithResponse(ctx, conv.id, &api.ListMessagesParams{AfterSeq: ptr(seq - 1), Limit: ptr(1)}, b.auth(creator))
	if err := answered(msgs, err, "list messages"); err != nil {
		return s, err
	}
	if items := msgs.JSON200.Items; len(items) != 1 || items[0].Seq != seq {
		return s, fmt.Errorf("message %d not found", seq)
	}
	for _, rc := range msgs.JSON200.Items[0].Reactions {
		s.counts[rc.Emoji] += int64(rc.Count)
	}
	accepted := map[string]bool{}
	for i, k := range conv.members {
		if burst.accepted[i].Load() {
			accepted[b.cfg.userID(k)] = true
		}
	}
	for _, emoji := range reactionEmoji {
		params := &api.ListReactorsParams{Limit: ptr(200)}
		for {
			page, err := b.api[0].ListReactorsWithResponse(ctx, conv.id, seq, emoji, params, b.auth(creator))
			if err := answered(page, err, "list reactors"); err != nil {
				return s, err
			}
			for _, it := range page.JSON200.Items {
				s.listed[it.UserId]++
				s.byEmoji[emoji]++
				if !accepted[it.UserId] {
					s.unwanted++
				}
			}
			if page.JSON200.NextCursor == nil {
				break
			}
			params.Cursor = page.JSON200.NextCursor
		}
	}
	return s, nil
}

func (s storedReactions) line() string {
	var sum, listed int64
	parts := make([]string, 0, len(reactionEmoji))
	for _, e := range reactionEmoji {
		sum += s.counts[e]
		listed += s.byEmoji[e]
		parts = append(parts, fmt.Sprintf("%s %d", e, s.counts[e]))
	}
	return fmt.Sprintf("%d in the message's counts (%s); %d listed by GET …/reactions/{emoji}, %d distinct users", sum, strings.Join(parts, ", "), listed, len(s.listed))
}

// problems compares what is stored with the ok reactions accepted.
func (s storedReactions) problems(ok int64) []string {
	var out []string
	var sum int64
	for e, n := range s.counts {
		sum += n
		if n != s.byEmoji[e] {
			out = append(out, fmt.Sprintf("%s: count %d but %d listed", e, n, s.byEmoji[e]))
		}
	}
	if sum != ok {
		out = append(out, fmt.Sprintf("the message's counts sum to %d, want %d", sum, ok))
	}
	if int64(len(s.listed)) != ok {
		out = append(out, fmt.Sprintf("%d distinct users listed, want %d", len(s.listed), ok))
	}
	for user, n := range s.listed {
		if n > 1 {
			out = append(out, fmt.Sprintf("%s listed %d times", user, n))
			break
		}
	}
	if s.unwanted > 0 {
		out = append(out, fmt.Sprintf("%d listed users whose PUT was not accepted", s.unwanted))
	}
	return out
}
