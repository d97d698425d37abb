package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/parleyhq/parley/gen/api"
)

// benchConn is one WebSocket connection of one user. One goroutine dials it, runs the handshake
// and then reads every frame until the connection ends.
type benchConn struct {
	b    *bench
	user int
	node int
	// strict: seqs at or below a conversation's base are violations too (the connection resumed
	// with explicit cursors); otherwise they are setup events (member.added) the connection may
	// legitimately see live, and are ignored.
	strict bool
	// convs are the conversations the connection's user is a member of, keyed by id; the map is
	// written before the connection starts and only read afterwards.
	convs map[string]*connConv

	ws  *websocket.Conn
	buf bytes.Buffer

	readyAt, resumedAt time.Time        // set by the handshake
	resumedCursors     map[string]int64 // from the resumed frame
	eventsBeforeReady  int              // events read between ready and resumed (the replay)

	closedByUs  atomic.Bool
	done        chan struct{} // closed when the reader has ended
	closeStatus websocket.StatusCode
	closeErr    error

	gaps, dups, events atomic.Int64
	reactions          atomic.Int64 // reaction.added events, each counted once
	presenceFrames     atomic.Int64
}

// connConv is what one connection knows of one conversation.
type connConv struct {
	conv     *benchConv
	base     int64
	lastSeen atomic.Int64
}

func (b *bench) newConn(user int, strict bool, cursors map[*benchConv]int64) *benchConn {
	// User k is member t = k / convs of its conversation; members alternate over the servers, so
	// every conversation has members on every node and events cross between them.
	node := (user / len(b.convs)) % len(b.cfg.urls)
	c := &benchConn{b: b, user: user, node: node, strict: strict, convs: make(map[string]*connConv), done: make(chan struct{})}
	for _, conv := range b.convsOf(user) {
		cc := &connConv{conv: conv, base: conv.base}
		if cur, ok := cursors[conv]; ok {
			cc.base = cur
		}
		cc.lastSeen.Store(cc.base)
		c.convs[conv.idStr] = cc
	}
	return c
}

// cursors are the resume cursors the connection sends: its last seq per conversation.
func (c *benchConn) cursors() map[string]int64 {
	out := make(map[string]int64, len(c.convs))
	for id, cc := range c.convs {
		out[id] = cc.lastSeen.Load()
	}
	return out
}

// run dials and runs the handshake, calls handshake with its outcome, then reads until the
// connection ends. resume is the resume frame's cursors (empty: live from now).
func (c *benchConn) run(ctx context.Context, resume map[string]int64, handshake func(error)) {
	defer close(c.done)
	if err := c.connect(ctx, resume); err != nil {
		c.closeErr = err
		if c.ws != nil {
			c.ws.CloseNow()
		}
		handshake(err)
		return
	}
	handshake(nil)
	for {
		data, err := c.readFrame(context.Background())
		if err != nil {
			c.closeErr = err
			c.closeStatus = websocket.CloseStatus(err)
			if !c.closedByUs.Load() {
				c.b.noteClose(c.closeStatus, err)
			}
			c.ws.CloseNow()
			return
		}
		c.handle(data, time.Now())
	}
}

// connect dials, checks the ready frame, sends the resume frame and reads until resumed,
// counting the events replayed before it.
func (c *benchConn) connect(ctx context.Context, resume map[string]int64) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := c.dial(ctx); err != nil {
		return err
	}
	data, err := c.readFrame(ctx)
	if err != nil {
		return fmt.Errorf("read ready: %w", err)
	}
	if typ := frameType(data); typ != "ready" {
		return fmt.Errorf("first frame is %q, want ready", typ)
	}
	c.readyAt = time.Now()
	frame, err := json.Marshal(api.ResumeFrame{Type: api.ResumeFrameTypeResume, Cursors: resume})
	if err != nil {
		return fmt.Errorf("encode resume: %w", err)
	}
	if err := c.ws.Write(ctx, websocket.MessageText, frame); err != nil {
		return fmt.Errorf("send resume: %w", err)
	}
	return c.awaitResumed(ctx)
}

// dial opens the WebSocket with the user's token and the parley.v1 subprotocol.
func (c *benchConn) dial(ctx context.Context) error {
	ws, resp, err := websocket.Dial(ctx, c.b.wsURLs[c.node], &websocket.DialOptions{
		HTTPClient:   c.b.wsHTTP,
		HTTPHeader:   http.Header{"Authorization": []string{"Bearer " + c.b.tokens[c.user]}},
		Subprotocols: []string{"parley.v1"},
	})
	if err != nil {
		if resp != nil {
			return fmt.Errorf("dial: HTTP %d: %w", resp.StatusCode, err)
		}
		return fmt.Errorf("dial: %w", err)
	}
	c.ws = ws
	if p := resp.Header.Get("Sec-WebSocket-Protocol"); p != "parley.v1" {
		return fmt.Errorf("server selected subprotocol %q, want parley.v1", p)
	}
	ws.SetReadLimit(1 << 20)
	return nil
}

// awaitResumed reads the replay up to the resumed frame and keeps the cursors it reports.
func (c *benchConn) awaitResumed(ctx context.Context) error {
	for {
		data, err := c.readFrame(ctx)
		if err != nil {
			return fmt.Errorf("wait for resumed: %w", err)
		}
		if c.handle(data, time.Now()) == "event" {
			c.eventsBeforeReady++
			continue
		}
		if frameType(data) != "resumed" {
			continue
		}
		c.resumedAt = time.Now()
		var f api.ResumedFrame
		if err := json.Unmarshal(data, &f); err != nil {
			return fmt.Errorf("decode resumed: %w", err)
		}
		c.resumedCursors = f.Cursors
		return nil
	}
}

// readFrame reads one text frame into the connection's buffer; the bytes are valid until the next
// call.
func (c *benchConn) readFrame(ctx context.Context) ([]byte, error) {
	typ, r, err := c.ws.Reader(ctx)
	if err != nil {
		return nil, err
	}
	c.buf.Reset()
	if _, err := c.buf.ReadFrom(r); err != nil {
		return nil, err
	}
	if typ != websocket.MessageText {
		return nil, errors.New("binary frame")
	}
	return c.buf.Bytes(), nil
}

// close closes the connection normally and waits for its reader.
func (c *benchConn) close() {
	if c.ws != nil {
		c.closedByUs.Store(true)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = c.ws.Close(websocket.StatusNormalClosure, "bench done")
		}()
		select {
		case <-done:
		case <-ctx.Done():
			c.ws.CloseNow()
			<-done
		}
	}
	<-c.done
}

// handle accounts for one frame and returns its type.
func (c *benchConn) handle(data []byte, now time.Time) string {
	if !bytes.HasPrefix(data, eventFramePrefix) || len(data) < len(eventFramePrefix)+2 {
		typ := frameType(data)
		switch typ {
		case "event": // an encoding the fast path does not know
			var f struct {
				Event json.RawMessage `json:"event"`
			}
			if json.Unmarshal(data, &f) == nil {
				if ev, ok := parseEventSlow(f.Event); ok {
					c.event(ev, now)
					return typ
				}
			}
			c.b.stats.badFrames.Add(1)
			c.b.noteBadFrame(data)
		case "resync":
			c.b.stats.resyncs.Add(1)
		case "presence":
			c.presenceFrames.Add(1)
			c.b.stats.presenceFrames.Add(1)
		case "error":
			c.b.stats.errorFrames.Add(1)
			c.b.noteBadFrame(data)
		}
		return typ
	}
	ev, ok := parseEvent(data[len(eventFramePrefix) : len(data)-1])
	if !ok {
		c.b.stats.badFrames.Add(1)
		c.b.noteBadFrame(data)
		return "event"
	}
	c.event(ev, now)
	return "event"
}

// event checks one event's seq against what the connection has seen of its conversation and
// records the send→deliver latency of a message.
func (c *benchConn) event(ev benchEvent, now time.Time) {
	st := &c.b.stats
	st.eventFrames.Add(1)
	cc := c.convs[string(ev.conv)]
	if cc == nil {
		st.unexpected.Add(1)
		return
	}
	last := cc.lastSeen.Load()
	switch {
	case ev.seq <= cc.base && !c.strict && last == cc.base:
		st.setupEvents.Add(1)
		return
	case ev.seq <= last:
		c.dups.Add(1)
		st.dups.Add(1)
		return
	case ev.seq > last+1:
		c.gaps.Add(ev.seq - last - 1)
		st.gaps.Add(ev.seq - last - 1)
	}
	cc.lastSeen.Store(ev.seq)
	c.events.Add(1)
	if ev.reactor != nil {
		c.reaction(ev.reactor, now)
		return
	}
	if !ev.message {
		return
	}
	st.messages.Add(1)
	if ev.sentAt > 0 && c.b.inWindow(ev.sentAt) {
		c.b.latency.record(time.Duration(now.UnixNano() - ev.sentAt))
	}
}

// reaction counts a reaction.added event and records its PUT→deliver latency.
func (c *benchConn) reaction(user []byte, now time.Time) {
	c.reactions.Add(1)
	c.b.stats.reactionEvents.Add(1)
	if at := c.b.reactedAt[string(user)]; at != nil {
		if t := at.Load(); t > 0 {
			c.b.latency.record(time.Duration(now.UnixNano() - t))
		}
	}
}
