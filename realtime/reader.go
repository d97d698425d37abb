package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"
	"golang.org/x/time/rate"

	"github.com/parleyhq/parley/gen/api"
)

// reader is the state only the reader goroutine touches: the limits on what the client sends.
type reader struct {
	c          *Conn
	typing     *rate.Limiter
	lastTyping map[uuid.UUID]time.Time
}

// read handles the client's frames. It reads with a context of its own: coder/websocket closes
// the connection on any read error, and the close code is the writer's to choose.
func (c *Conn) read() {
	r := &reader{c: c, typing: newTypingLimiter(*c.env.cfg), lastTyping: make(map[uuid.UUID]time.Time)}
	first := true
	for {
		typ, data, err := c.ws.Read(context.Background())
		if err != nil {
			c.cancel(errClientGone)
			return
		}
		if typ != websocket.MessageText {
			c.cancel(errProtocol)
			return
		}
		f, err := decodeClientFrame(data)
		if errors.Is(err, errProtocolFrame) {
			c.cancel(errProtocol)
			return
		}
		if first && f.typ != string(api.ResumeFrameTypeResume) {
			c.enqueue(&outFrame{kind: frameResume}) // no resume: live delivery starts now
		}
		first = false
		if refused, ok := errors.AsType[*frameError](err); ok {
			c.sendError(refused.code, refused.message)
			continue
		}
		switch f.typ {
		case string(api.ResumeFrameTypeResume):
			// Not in the reader (enqueueOwn): a resume may wait for a slot and read the log, and the
			// reader reads on meanwhile, answering the client's pings.
			c.enqueue(&outFrame{kind: frameResume, cursors: f.cursors})
		case string(api.TypingRequestFrameTypeTyping):
			r.typingFrame(f.conv, time.Now())
		case string(api.PingFrameTypePing):
			c.enqueueControl(api.PongFrame{Type: api.PongFrameTypePong, Id: f.pingID})
		case string(api.PresenceSubscribeFrameTypePresenceSubscribe):
			c.presenceSubscribe(f.userIDs)
		}
	}
}

// typingFrame tells the conversation's other members that the user is typing, within the
// connection's rate limit and the per-conversation throttle.
func (r *reader) typingFrame(conv uuid.UUID, now time.Time) {
	c := r.c
	if retry, ok := r.allowTyping(now); !ok {
		c.env.metrics.framesDropped.WithLabelValues("rate_limited").Inc()
		c.enqueueControl(api.ErrorFrame{
			Type: api.ErrorFrameTypeError, Code: "rate_limited",
			Message:      "too many typing frames on this connection",
			RetryAfterMs: ptrTo(int(retry.Milliseconds())),
		})
		return
	}
	if !c.env.hub.isMember(c, conv) {
		c.sendError("not_member", "not a member of that conversation")
		return
	}
	if now.Sub(r.lastTyping[conv]) < c.env.cfg.TypingThrottle {
		c.env.metrics.framesDropped.WithLabelValues("throttled").Inc()
		return
	}
	r.lastTyping[conv] = now
	frame, err := json.Marshal(api.TypingFrame{Type: api.TypingFrameTypeTyping, ConversationId: conv, UserId: c.userID})
	if err != nil {
		return
	}
	if err := c.env.hub.Signal(c.ctx, Signal{ConversationID: conv, UserID: c.userID, SkipUser: true, Frame: frame}); err != nil {
		c.env.logger.DebugContext(c.ctx, "typing signal not sent", "error", err)
	}
}

// newTypingLimiter holds a connection to TypingRate; a zero rate is no limit.
func newTypingLimiter(cfg HubConfig) *rate.Limiter {
	if cfg.TypingRate == 0 {
		return rate.NewLimiter(rate.Inf, 0)
	}
	return rate.NewLimiter(cfg.TypingRate, cfg.TypingBurst)
}

// allowTyping spends one of the connection's typing tokens, or says how long until one is back.
func (r *reader) allowTyping(now time.Time) (time.Duration, bool) {
	if r.typing.AllowN(now, 1) {
		return 0, true
	}
	missing := 1 - r.typing.TokensAt(now)
	return time.Duration(math.Ceil(missing / float64(r.typing.Limit()) * float64(time.Second))), false
}

func ptrTo[T any](v T) *T { return &v }
