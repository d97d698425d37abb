package server

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/devtoken"
	"github.com/parleyhq/parley/gen/api"
)

func createGroupVia(t *testing.T, client *api.ClientWithResponses, members ...string) uuid.UUID {
	t.Helper()
	title := "live"
	resp, err := client.CreateConversationWithResponse(t.Context(), api.CreateConversationJSONRequestBody{Type: api.ConversationTypeGroup, Title: &title, MemberIds: append([]string{}, members...)})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, resp.StatusCode(), string(resp.Body))
	return resp.JSON201.Id
}

func sendVia(t *testing.T, client *api.ClientWithResponses, conv uuid.UUID, body string) api.Message {
	t.Helper()
	resp, err := client.SendMessageWithResponse(t.Context(), conv, api.SendMessageJSONRequestBody{ClientMsgId: uuid.NewString(), Body: body})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, resp.StatusCode(), string(resp.Body))
	return *resp.JSON201
}

func TestWebSocketDeliversEventsInOrder(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, withoutRateLimits)
	base := serveTest(t, s)
	alice := apiClient(t, base, "alice")
	conv := createGroupVia(t, alice, "bob")

	bob := dialWS(t, base, tokenFor(t, "bob"))
	bob.ready(nil)

	sent := sendVia(t, alice, conv, "hello bob")
	ev := bob.nextEvent(5 * time.Second)
	require.Equal(t, api.EventTypeMessageCreated, ev.Type)
	require.Equal(t, conv, ev.ConversationId)
	require.Equal(t, sent.Seq, ev.Seq)
	require.Equal(t, "hello bob", ev.Message.Body)

	const n = 100
	for i := range n {
		sendVia(t, alice, conv, "rapid "+strconv.Itoa(i))
	}
	for i := range n {
		ev := bob.nextEvent(5 * time.Second)
		require.EqualValues(t, sent.Seq+int64(i)+1, ev.Seq, "in order, without gap or duplicate")
		require.Equal(t, "rapid "+strconv.Itoa(i), ev.Message.Body)
	}
	bob.noFrameOf("event")
}

func TestWebSocketResumeReplaysExactlyWhatWasMissed(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	base := serveTest(t, s)
	alice := apiClient(t, base, "alice")
	conv := createGroupVia(t, alice, "bob")
	other := createGroupVia(t, alice, "bob")

	bob := dialWS(t, base, tokenFor(t, "bob"))
	bob.ready(nil)
	for i := range 5 {
		sendVia(t, alice, conv, "before "+strconv.Itoa(i))
	}
	var cursor int64
	for range 5 {
		cursor = bob.nextEvent(5 * time.Second).Seq
	}
	bob.conn.CloseNow()
	bob.waitClosed(5 * time.Second)

	for i := range 7 {
		sendVia(t, alice, conv, "missed "+strconv.Itoa(i))
	}
	sendVia(t, alice, other, "elsewhere")

	again := dialWS(t, base, tokenFor(t, "bob"))
	var ready api.ReadyFrame
	require.NoError(t, json.Unmarshal(again.nextOf("ready", 5*time.Second).raw, &ready))
	again.send(api.ResumeFrame{Type: api.ResumeFrameTypeResume, Cursors: api.Cursors{conv.String(): cursor, other.String(): 0}})
	replayed := map[uuid.UUID][]string{}
	for {
		f := again.next(5 * time.Second)
		if f.Type == "resumed" {
			var resumed api.ResumedFrame
			require.NoError(t, json.Unmarshal(f.raw, &resumed))
			require.Equal(t, api.Cursors{conv.String(): cursor + 7, other.String(): 1}, resumed.Cursors)
			break
		}
		require.Equal(t, "event", f.Type)
		var ev api.EventFrame
		require.NoError(t, json.Unmarshal(f.raw, &ev))
		replayed[ev.Event.ConversationId] = append(replayed[ev.Event.ConversationId], ev.Event.Message.Body)
	}
	want := make([]string, 7)
	for i := range want {
		want[i] = "missed " + strconv.Itoa(i)
	}
	require.Equal(t, want, replayed[conv], "exactly the missed events, in order")
	require.Equal(t, []string{"elsewhere"}, replayed[other])

	live := sendVia(t, alice, conv, "live again")
	ev := again.nextEvent(5 * time.Second)
	require.Equal(t, live.Seq, ev.Seq, "then live, without gap or duplicate")
	again.noFrameOf("event")
}

func TestWebSocketResumeBeyondLimitAsksForResync(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, func(c *Config) { c.Hub.ResumeLimit = 5 })
	base := serveTest(t, s)
	alice := apiClient(t, base, "alice")
	conv := createGroupVia(t, alice, "bob")
	for i := range 8 {
		sendVia(t, alice, conv, "m"+strconv.Itoa(i))
	}
	bob := dialWS(t, base, tokenFor(t, "bob"))
	require.Equal(t, "ready", bob.next(5*time.Second).Type)
	bob.send(api.ResumeFrame{Type: api.ResumeFrameTypeResume, Cursors: api.Cursors{conv.String(): 1}})
	var resync api.ResyncFrame
	require.NoError(t, json.Unmarshal(bob.nextOf("resync", 5*time.Second).raw, &resync))
	require.Equal(t, conv, resync.ConversationId)
	require.EqualValues(t, 1, resync.AfterSeq)
	require.Equal(t, "resumed", bob.next(5*time.Second).Type)

	// Live events keep flowing; events still on their way when the client asked may come first,
	// and the client pages the rest from after_seq.
	live := sendVia(t, alice, conv, "live")
	var last int64
	for last < live.Seq {
		ev := bob.nextEvent(5 * time.Second)
		require.Greater(t, ev.Seq, max(last, resync.AfterSeq), "in order, nothing at or before the resync point")
		last = ev.Seq
	}
}

func TestWebSocketTypingReachesOtherMembersOnly(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	base := serveTest(t, s)
	alice := apiClient(t, base, "alice")
	conv := createGroupVia(t, alice, "bob")
	createGroupVia(t, apiClient(t, base, "carol")) // carol is in another conversation

	aliceWS := dialWS(t, base, tokenFor(t, "alice"))
	aliceWS.ready(nil)
	aliceOtherDevice := dialWS(t, base, tokenFor(t, "alice"))
	aliceOtherDevice.ready(nil)
	bob := dialWS(t, base, tokenFor(t, "bob"))
	bob.ready(nil)
	carol := dialWS(t, base, tokenFor(t, "carol"))
	carol.ready(nil)

	aliceWS.send(api.TypingRequestFrame{Type: api.TypingRequestFrameTypeTyping, ConversationId: conv})
	var typing api.TypingFrame
	require.NoError(t, json.Unmarshal(bob.nextOf("typing", 5*time.Second).raw, &typing))
	require.Equal(t, conv, typing.ConversationId)
	require.Equal(t, "alice", typing.UserId)

	aliceWS.send(api.TypingRequestFrame{Type: api.TypingRequestFrameTypeTyping, ConversationId: conv})
	bob.noFrameOf("typing") // throttled
	aliceWS.noFrameOf("typing")
	aliceOtherDevice.noFrameOf("typing")
	carol.noFrameOf("typing")

	carol.send(api.TypingRequestFrame{Type: api.TypingRequestFrameTypeTyping, ConversationId: conv})
	var refused api.ErrorFrame
	require.NoError(t, json.Unmarshal(carol.nextOf("error", 5*time.Second).raw, &refused))
	require.Equal(t, "not_member", refused.Code)
	bob.noFrameOf("typing")
}

func TestWebSocketReadReceipts(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	base := serveTest(t, s)
	alice := apiClient(t, base, "alice")
	bobAPI := apiClient(t, base, "bob")
	conv := createGroupVia(t, alice, "bob")
	msg := sendVia(t, alice, conv, "read me")

	aliceWS := dialWS(t, base, tokenFor(t, "alice"))
	aliceWS.ready(nil)
	resp, err := bobAPI.MarkReadWithResponse(t.Context(), conv, api.MarkReadJSONRequestBody{Seq: msg.Seq})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode())
	var read api.ReadFrame
	require.NoError(t, json.Unmarshal(aliceWS.nextOf("read", 5*time.Second).raw, &read))
	require.Equal(t, api.ReadFrame{Type: api.ReadFrameTypeRead, ConversationId: conv, UserId: "bob", Seq: msg.Seq}, read)
}

func TestWebSocketFollowsMembership(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	base := serveTest(t, s)
	alice := apiClient(t, base, "alice")

	dave := dialWS(t, base, tokenFor(t, "dave"))
	dave.ready(nil)

	// Created while dave is connected: its first event reaches him.
	created := createGroupVia(t, alice, "dave")
	first := sendVia(t, alice, created, "welcome")
	ev := dave.nextEvent(5 * time.Second)
	require.Equal(t, first.Seq, ev.Seq)
	require.Equal(t, created, ev.ConversationId)

	conv := createGroupVia(t, alice, "bob")
	sendVia(t, alice, conv, "before dave")
	add, err := alice.AddMemberWithResponse(t.Context(), conv, api.AddMemberJSONRequestBody{UserId: "dave"})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, add.StatusCode())
	// The message before dave joined may reach him too (he may read history): but in order, and
	// then his own addition.
	ev = dave.nextEvent(5 * time.Second)
	if ev.Type == api.EventTypeMessageCreated {
		require.EqualValues(t, 1, ev.Seq)
		ev = dave.nextEvent(5 * time.Second)
	}
	require.Equal(t, api.EventTypeMemberAdded, ev.Type, "the new member hears of their own addition")
	require.Equal(t, "dave", ev.Member.UserId)
	after := sendVia(t, alice, conv, "with dave")
	require.Equal(t, after.Seq, dave.nextEvent(5*time.Second).Seq)

	remove, err := alice.RemoveMemberWithResponse(t.Context(), conv, "dave")
	require.NoError(t, err)
	require.Equal(t, http.StatusNoContent, remove.StatusCode())
	ev = dave.nextEvent(5 * time.Second)
	require.Equal(t, api.EventTypeMemberRemoved, ev.Type, "the removed member hears of it")
	sendVia(t, alice, conv, "without dave")
	dave.noFrameOf("event")
}

func TestWebSocketHandshake(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	base := serveTest(t, s)
	wsURL := "ws" + strings.TrimPrefix(base, "http") + "/v1/ws"

	// Browsers pass the token in the query string.
	conn, _, err := websocket.Dial(t.Context(), wsURL+"?access_token="+tokenFor(t, "alice"), nil)
	require.NoError(t, err)
	conn.CloseNow()

	_, resp, err := websocket.Dial(t.Context(), wsURL, nil)
	require.Error(t, err)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)

	_, resp, err = websocket.Dial(t.Context(), wsURL, &websocket.DialOptions{HTTPHeader: http.Header{
		"Authorization": []string{"Bearer " + tokenFor(t, "alice")},
		"Origin":        []string{"https://evil.example"},
	}})
	require.Error(t, err)
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "a browser page of another origin is refused")

	plain, err := http.Get(base + "/v1/ws?access_token=" + tokenFor(t, "alice"))
	require.NoError(t, err)
	plain.Body.Close()
	require.Equal(t, http.StatusBadRequest, plain.StatusCode, "not a WebSocket handshake")
}

func TestWebSocketClosesWithReason(t *testing.T) {
	t.Parallel()

	t.Run("TokenExpired", func(t *testing.T) {
		t.Parallel()
		s := newTestServer(t)
		base := serveTest(t, s)
		token, err := devtoken.Issue([]byte(testSecret), "alice", "", "", 1500*time.Millisecond)
		require.NoError(t, err)
		c := dialWS(t, base, token)
		require.Equal(t, websocket.StatusCode(4401), c.waitClosed(10*time.Second))
	})

	t.Run("ServerShutdown", func(t *testing.T) {
		t.Parallel()
		s := newTestServer(t)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		served := make(chan error, 1)
		go func() { served <- s.Serve(ctx, ln) }()
		c := dialWS(t, "http://"+ln.Addr().String(), tokenFor(t, "alice"))
		c.ready(nil)
		cancel()
		require.Equal(t, websocket.StatusGoingAway, c.waitClosed(10*time.Second))
		require.NoError(t, <-served)
	})

	t.Run("BinaryFrameIsAPolicyViolation", func(t *testing.T) {
		t.Parallel()
		s := newTestServer(t)
		base := serveTest(t, s)
		c := dialWS(t, base, tokenFor(t, "alice"))
		c.ready(nil)
		require.NoError(t, c.conn.Write(t.Context(), websocket.MessageBinary, []byte{1, 2, 3}))
		require.Equal(t, websocket.StatusPolicyViolation, c.waitClosed(10*time.Second))
	})

	t.Run("FrameTooLarge", func(t *testing.T) {
		t.Parallel()
		s := newTestServer(t, func(c *Config) { c.Hub.MaxFrameBytes = 1024 })
		base := serveTest(t, s)
		c := dialWS(t, base, tokenFor(t, "alice"))
		c.ready(nil)
		_ = c.conn.Write(t.Context(), websocket.MessageText, []byte(`{"type":"ping","id":"`+strings.Repeat("x", 4096)+`"}`))
		require.Equal(t, websocket.StatusMessageTooBig, c.waitClosed(10*time.Second))
	})

	t.Run("UnknownFrameIsAnErrorNotAClose", func(t *testing.T) {
		t.Parallel()
		s := newTestServer(t)
		base := serveTest(t, s)
		c := dialWS(t, base, tokenFor(t, "alice"))
		c.ready(nil)
		c.send(map[string]string{"type": "subscribe"})
		var e api.ErrorFrame
		require.NoError(t, json.Unmarshal(c.nextOf("error", 5*time.Second).raw, &e))
		require.Equal(t, "unknown_type", e.Code)
		c.send(api.PingFrame{Type: api.PingFrameTypePing, Id: ptr("still-here")})
		var pong api.PongFrame
		require.NoError(t, json.Unmarshal(c.nextOf("pong", 5*time.Second).raw, &pong))
		require.Equal(t, "still-here", *pong.Id)
	})
}

// A client that stops reading is closed with 4001 once its bounded queue overflows; the server
// does not buffer for it without limit, and other members are not held up.
func TestWebSocketSlowConsumerIsClosed(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, withoutRateLimits, func(c *Config) {
		c.Hub.QueueSize = 16
		c.Hub.WriteTimeout = time.Minute // the write blocked on the paused client outlives the test
	})
	base := serveTest(t, s)
	alice := apiClient(t, base, "alice")
	conv := createGroupVia(t, alice, "bob", "carol")

	slow := dialWSSmallBuffer(t, base, tokenFor(t, "bob"))
	slow.ready(nil)
	fast := dialWS(t, base, tokenFor(t, "carol"))
	fast.ready(nil)
	slow.pause()

	body := strings.Repeat("🐢", 4000) // 16 KB frames fill socket buffers quickly
	sent := 0
	for metricValue(t, s, "parley_ws_closes_total", "slow_consumer") == 0 {
		require.Less(t, sent, 2000, "the slow consumer was never closed")
		sendVia(t, alice, conv, body)
		sent++
	}
	for i := 1; i <= sent; i++ {
		require.EqualValues(t, i, fast.nextEvent(5*time.Second).Seq, "the fast reader is not held up, and in order")
	}
	slow.resume()
	require.Equal(t, websocket.StatusCode(4001), slow.waitClosed(15*time.Second))
	t.Logf("slow consumer closed after %d messages of %d bytes (queue of 16 frames)", sent, len(body))
}

// metricValue reads a counter or gauge of the server's registry, summed over series whose label
// values include label (all series when label is empty).
func metricValue(t *testing.T, s *Server, name, label string) float64 {
	t.Helper()
	families, err := s.Registry().Gather()
	require.NoError(t, err)
	var total float64
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			match := label == ""
			for _, l := range m.GetLabel() {
				match = match || l.GetValue() == label
			}
			if !match {
				continue
			}
			switch {
			case m.GetCounter() != nil:
				total += m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				total += m.GetGauge().GetValue()
			}
		}
	}
	return total
}

// A WebSocket receives nothing of a conversation its user is not a member of: not live, not by
// naming the conversation in resume, not its typing or read receipts.
func TestWebSocketNonMemberReceivesNothing(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	base := serveTest(t, s)
	alice := apiClient(t, base, "alice")
	conv := createGroupVia(t, alice, "bob")
	sendVia(t, alice, conv, "before")

	mallory := dialWS(t, base, tokenFor(t, "mallory"))
	resumed := mallory.ready(api.Cursors{conv.String(): 0})
	require.Empty(t, resumed.Cursors, "resume does not replay a conversation of others")
	bob := dialWS(t, base, tokenFor(t, "bob"))
	bob.ready(nil)

	sent := sendVia(t, alice, conv, "secret")
	require.Equal(t, sent.Seq, bob.nextEvent(5*time.Second).Seq)
	aliceWS := dialWS(t, base, tokenFor(t, "alice"))
	aliceWS.ready(nil)
	aliceWS.send(api.TypingRequestFrame{Type: api.TypingRequestFrameTypeTyping, ConversationId: conv})
	bob.nextOf("typing", 5*time.Second)
	read, err := alice.MarkReadWithResponse(t.Context(), conv, api.MarkReadJSONRequestBody{Seq: sent.Seq})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, read.StatusCode())
	bob.nextOf("read", 5*time.Second)

	mallory.noFrameOf("event")
	mallory.noFrameOf("typing")
	mallory.noFrameOf("read")
}
