package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/time/rate"

	"github.com/parleyhq/parley/gen/api"
)

// startSenders sends messages through the HTTP API from n goroutines, at perSecond overall (0: as
// fast as they go), until stop is called or, when total > 0, total messages have been tried.
// Message i goes to conversation i mod convs, from one of its members in turn.
func (b *bench) startSenders(ctx context.Context, n int, perSecond float64, total int64) (stop func()) {
	sctx, cancel := context.WithCancel(ctx)
	var lim *rate.Limiter
	if perSecond > 0 {
		lim = rate.NewLimiter(rate.Limit(perSecond), n)
	}
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for {
				if lim != nil {
					if lim.Wait(sctx) != nil {
						return
					}
				} else if sctx.Err() != nil {
					return
				}
				i := b.sendSeq.Add(1) - 1
				if total > 0 && i >= total {
					return
				}
				b.sendOne(ctx, i)
			}
		})
	}
	return func() {
		cancel()
		wg.Wait()
	}
}

func (b *bench) sendOne(ctx context.Context, i int64) {
	conv := b.convs[i%int64(len(b.convs))]
	// The sender is the conversation's members in turn, each through the server it is connected
	// to; so over a run every server takes sends and every conversation's events cross nodes.
	turn := i / int64(len(b.convs))
	member := conv.members[turn%int64(len(conv.members))]
	client := b.api[turn%int64(len(b.api))]
	start := time.Now()
	body := api.SendMessageJSONRequestBody{
		ClientMsgId: fmt.Sprintf("%s-%d", b.cfg.runID, i),
		Body:        messageBody(start.UnixNano(), b.cfg.bodyBytes),
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	resp, err := client.SendMessageWithResponse(rctx, conv.id, body, b.auth(member))
	cancel()
	took := time.Since(start)
	in := b.inWindow(start.UnixNano())
	switch {
	case err != nil:
		b.sendFailed("transport error", err.Error(), in)
	case resp.JSON201 != nil:
		b.stats.sentOK.Add(1)
		if in {
			b.stats.windowOK.Add(1)
			b.post.record(took)
		}
	default:
		b.sendFailed(fmt.Sprintf("HTTP %d", resp.StatusCode()), string(resp.Body), in)
	}
}

func (b *bench) sendFailed(kind, detail string, inWindow bool) {
	b.stats.sentErr.Add(1)
	if inWindow {
		b.stats.windowErr.Add(1)
	}
	b.sendErrs.add(b, kind, detail)
}

func (b *bench) noteClose(status websocket.StatusCode, err error) {
	b.stats.serverCloses.Add(1)
	key := fmt.Sprintf("status %d", status)
	if status == -1 {
		key = err.Error()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closeCodes[key] == 0 {
		b.logf("connection closed by the server: %v", err)
	}
	b.closeCodes[key]++
}

func (b *bench) noteBadFrame(data []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.badFrames) < 5 {
		frame := string(data)
		if len(frame) > 300 {
			frame = frame[:300] + "…"
		}
		b.badFrames = append(b.badFrames, frame)
		b.logf("unexpected frame: %s", frame)
	}
}

func (b *bench) openWindow() time.Time {
	now := time.Now()
	b.winStart.Store(now.UnixNano())
	return now
}

func (b *bench) closeWindow() time.Time {
	now := time.Now()
	b.winEnd.Store(now.UnixNano())
	return now
}

func (b *bench) inWindow(t int64) bool { return t >= b.winStart.Load() && t < b.winEnd.Load() }
