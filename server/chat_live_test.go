package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/gen/api"
)

// chatActivity is what several members do at once in one conversation, through both nodes:
// replies in a thread with mentions, and reactions added and taken back.
func chatActivity(t *testing.T, conv uuid.UUID, root int64, clients map[string]*api.ClientWithResponses, rounds int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, len(clients)*rounds*3)
	for user, client := range clients {
		wg.Go(func() {
			for i := range rounds {
				ctx := context.Background()
				reply, err := client.SendMessageWithResponse(ctx, conv, api.SendMessageJSONRequestBody{
					ClientMsgId: uuid.NewString(), Body: fmt.Sprintf("%s says %d", user, i), ReplyToSeq: &root, Mentions: &[]string{"alice"},
				})
				if err == nil && reply.StatusCode() != http.StatusCreated {
					err = fmt.Errorf("reply: %d %s", reply.StatusCode(), reply.Body)
				}
				if err != nil {
					errs <- err
					return
				}
				emoji := []string{"👍", "🎉", ":ship_it:"}[i%3]
				added, err := client.AddReactionWithResponse(ctx, conv, root, emoji)
				if err == nil && added.StatusCode() != http.StatusNoContent {
					err = fmt.Errorf("react: %d %s", added.StatusCode(), added.Body)
				}
				if err == nil && i%2 == 1 {
					removed, rerr := client.RemoveReactionWithResponse(ctx, conv, root, emoji)
					if err = rerr; err == nil && removed.StatusCode() != http.StatusNoContent {
						err = fmt.Errorf("unreact: %d %s", removed.StatusCode(), removed.Body)
					}
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

// eventLog is the conversation's durable event log after seq, as GET …/events pages it.
func eventLog(t *testing.T, client *api.ClientWithResponses, conv uuid.UUID, after int64) []api.Event {
	t.Helper()
	var all []api.Event
	for {
		resp, err := client.ListEventsWithResponse(t.Context(), conv, &api.ListEventsParams{AfterSeq: &after, Limit: ptr(200)})
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode(), string(resp.Body))
		all = append(all, resp.JSON200.Items...)
		if !resp.JSON200.HasMore {
			return all
		}
		after = all[len(all)-1].Seq
	}
}

// collectEvents reads a connection's events of conv until it has seen seq last.
func collectEvents(t *testing.T, c *wsClient, conv uuid.UUID, last int64, within time.Duration) []api.Event {
	t.Helper()
	deadline := time.Now().Add(within)
	var events []api.Event
	for len(events) == 0 || events[len(events)-1].Seq < last {
		if ev := c.nextEvent(time.Until(deadline)); ev.ConversationId == conv {
			events = append(events, ev)
		}
	}
	return events
}

// Replies and reactions written through two nodes at once reach every WebSocket on either node
// as the durable log holds them: every seq once, in order, each with its payload. A client that
// drops off resumes, on the other node, with exactly what it missed.
func TestRepliesAndReactionsLiveOnTwoNodes(t *testing.T) {
	t.Parallel()
	c := newCluster(t, testRedisURL())
	_, baseA := c.node(t, "node-a", withoutRateLimits)
	_, baseB := c.node(t, "node-b", withoutRateLimits)
	repliesAndReactionsLive(t, baseA, baseB)
}

// The same on one node without Redis.
func TestRepliesAndReactionsLiveOnOneNode(t *testing.T) {
	t.Parallel()
	base := serveTest(t, newTestServer(t, withoutRateLimits))
	repliesAndReactionsLive(t, base, base)
}

func repliesAndReactionsLive(t *testing.T, baseA, baseB string) {
	alice := apiClient(t, baseA, "alice")
	conv := createGroupVia(t, alice, "bob", "carol", "dave")
	root := sendVia(t, alice, conv, "who is in for friday?")

	watchers := map[string]*wsClient{}
	for _, w := range []struct{ base, user string }{{baseA, "alice"}, {baseB, "bob"}, {baseA, "carol"}, {baseB, "dave"}} {
		ws := dialWS(t, w.base, tokenFor(t, w.user))
		ws.ready(api.Cursors{conv.String(): root.Seq})
		watchers[w.user] = ws
	}
	writers := map[string]*api.ClientWithResponses{
		"bob": apiClient(t, baseB, "bob"), "carol": apiClient(t, baseA, "carol"), "dave": apiClient(t, baseB, "dave"),
	}
	chatActivity(t, conv, root.Seq, writers, 4)

	log := eventLog(t, alice, conv, root.Seq)
	last := log[len(log)-1].Seq
	require.Equal(t, oneToN(last)[root.Seq:], eventSeqs(log), "the log has no gaps")
	kinds := map[api.EventType]int{}
	for _, e := range log {
		kinds[e.Type]++
		if e.Type == api.EventTypeMessageCreated {
			require.Equal(t, root.Seq, *e.Message.ReplyToSeq)
			require.Equal(t, []string{"alice"}, e.Message.Mentions)
		}
	}
	// Each writer's fourth 👍 is its first again: idempotent, no event.
	require.Equal(t, map[api.EventType]int{api.EventTypeMessageCreated: 12, api.EventTypeReactionAdded: 9, api.EventTypeReactionRemoved: 6}, kinds)
	for name, ws := range watchers {
		require.Equal(t, log, collectEvents(t, ws, conv, last, 30*time.Second), name)
		ws.noFrameOf("event")
	}

	// Bob drops off after some of it, more happens, and he resumes on the other node.
	dropped := watchers["bob"]
	dropped.conn.CloseNow()
	dropped.waitClosed(5 * time.Second)
	chatActivity(t, conv, root.Seq, writers, 2)
	missed := eventLog(t, alice, conv, last)
	again := dialWS(t, baseA, tokenFor(t, "bob"))
	replayed, cursors := resumeCollect(t, again, api.Cursors{conv.String(): last})
	require.Equal(t, api.Cursors{conv.String(): missed[len(missed)-1].Seq}, cursors)
	require.Equal(t, missed, replayed, "exactly the missed events, in order")

	resp, err := alice.GetConversationWithResponse(t.Context(), conv)
	require.NoError(t, err)
	require.Equal(t, missed[len(missed)-1].Seq, resp.JSON200.LastSeq)
	history, err := alice.ListRepliesWithResponse(t.Context(), conv, root.Seq, &api.ListRepliesParams{Limit: ptr(200)})
	require.NoError(t, err)
	require.Len(t, history.JSON200.Items, 18)
}

func eventSeqs(events []api.Event) []int64 {
	out := make([]int64, len(events))
	for i, e := range events {
		out[i] = e.Seq
	}
	return out
}

// resumeCollect reads the ready frame, resumes with cursors and returns the events replayed
// before the resumed frame, and that frame's cursors.
func resumeCollect(t *testing.T, c *wsClient, cursors api.Cursors) ([]api.Event, api.Cursors) {
	t.Helper()
	c.nextOf("ready", 5*time.Second)
	c.send(api.ResumeFrame{Type: api.ResumeFrameTypeResume, Cursors: cursors})
	var events []api.Event
	for {
		f := c.next(5 * time.Second)
		switch f.Type {
		case "resumed":
			var resumed api.ResumedFrame
			require.NoError(t, json.Unmarshal(f.raw, &resumed))
			return events, resumed.Cursors
		case "event":
			var ev api.EventFrame
			require.NoError(t, json.Unmarshal(f.raw, &ev))
			events = append(events, ev.Event)
		}
	}
}
