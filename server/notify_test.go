package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/gen/api"
)

// hookReceiver is an operator's webhook endpoint: it checks every signature and keeps what
// arrives, in arrival order.
type hookReceiver struct {
	t      testing.TB
	url    string
	secret string

	mu       sync.Mutex
	arrivals []string                   // webhook ids in arrival order, repeats included
	bodies   map[string]json.RawMessage // by webhook id
}

func newHookReceiver(t testing.TB) *hookReceiver {
	t.Helper()
	r := &hookReceiver{t: t, secret: "whsec_" + base64.StdEncoding.EncodeToString([]byte("a webhook key of thirty-two bytes")), bodies: map[string]json.RawMessage{}}
	verifier, err := standardwebhooks.NewWebhook(r.secret)
	require.NoError(t, err)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if err := verifier.Verify(body, req.Header); err != nil {
			t.Errorf("webhook %s: signature: %v", req.Header.Get("webhook-id"), err)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var head struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(body, &head); err != nil || head.ID != req.Header.Get("webhook-id") {
			t.Errorf("webhook body %s: its id is not the webhook-id header %q", body, req.Header.Get("webhook-id"))
		}
		r.mu.Lock()
		r.arrivals = append(r.arrivals, head.ID)
		r.bodies[head.ID] = body
		r.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	r.url = srv.URL + "/hooks"
	return r
}

// configure points a server's webhooks at the receiver, with a short notification delay.
func (r *hookReceiver) configure(cfg *Config) {
	cfg.Webhook.URL, cfg.Webhook.Secret = r.url, r.secret
	cfg.Webhook.NotifyDelay = time.Second
	cfg.Webhook.PollInterval = 50 * time.Millisecond
	cfg.Webhook.BackoffMin = 10 * time.Millisecond
	cfg.Webhook.LeaseTTL = 3 * time.Second
}

// notifications returns the notification requests that arrived, by recipient, and how many
// distinct requests (webhook ids) each recipient got: a resend carries the same id.
func (r *hookReceiver) notifications() (map[string]api.Notification, map[string]int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	got, requests := map[string]api.Notification{}, map[string]int{}
	for id, body := range r.bodies {
		var n api.NotificationRequested
		if json.Unmarshal(body, &n) != nil || n.Type != api.NotificationRequestedTypeNotificationRequested {
			continue
		}
		require.Equal(r.t, id, n.Id)
		got[n.Notification.UserId] = n.Notification
		requests[n.Notification.UserId]++
	}
	return got, requests
}

// eventSeqs returns the seqs of the conversation's event webhooks in the order they first
// arrived (at least once: a resend is a repeat of an id).
func (r *hookReceiver) eventSeqs(conv uuid.UUID) []int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var seqs []int64
	seen := map[string]bool{}
	for _, id := range r.arrivals {
		if seen[id] || !strings.HasPrefix(id, conv.String()+":") || strings.Count(id, ":") != 1 {
			continue
		}
		seen[id] = true
		var w api.WebhookEvent
		if json.Unmarshal(r.bodies[id], &w) == nil {
			seqs = append(seqs, w.Event.Seq)
		}
	}
	return seqs
}

// webhooksDrained says whether a server has sent every webhook and decided every notification.
func webhooksDrained(s *Server) bool {
	var pending int
	err := s.pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM webhook_deliveries) + (SELECT count(*) FROM notify_jobs)`).Scan(&pending)
	return err == nil && pending == 0
}

// notificationStory: alice writes to bob (online, on baseB), carol (offline, mentioned), dave
// (muted) and erin (who blocks alice); only carol is asked to be notified, once.
func notificationStory(t *testing.T, hooks *hookReceiver, nodes []*Server, baseA, baseB string) {
	alice := apiClient(t, baseA, "alice")
	conv := createGroupVia(t, alice, "bob", "carol", "dave", "erin")
	muted, err := apiClient(t, baseB, "dave").UpdateSettingsWithResponse(t.Context(), conv, api.UpdateSettingsJSONRequestBody{Muted: true})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, muted.StatusCode(), string(muted.Body))
	blocked, err := apiClient(t, baseB, "erin").BlockUserWithResponse(t.Context(), "alice")
	require.NoError(t, err)
	require.Equal(t, http.StatusNoContent, blocked.StatusCode(), string(blocked.Body))

	bob := dialWS(t, baseB, tokenFor(t, "bob"))
	bob.ready(nil)
	resp, err := alice.SendMessageWithResponse(t.Context(), conv, api.SendMessageJSONRequestBody{
		ClientMsgId: uuid.NewString(), Body: "carol, can you look?", Mentions: &[]string{"carol"},
	})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, resp.StatusCode(), string(resp.Body))
	msg := resp.JSON201
	seqs := collectSeqs(t, bob, conv, msg.Seq, 10*time.Second)
	require.Equal(t, msg.Seq, seqs[len(seqs)-1], "bob's socket received the message")

	require.Eventually(t, func() bool {
		got, _ := hooks.notifications()
		_, ok := got["carol"]
		return ok
	}, 20*time.Second, 10*time.Millisecond, "carol's notification request")
	for _, s := range nodes {
		require.Eventually(t, func() bool { return webhooksDrained(s) }, 20*time.Second, 10*time.Millisecond, "every webhook sent")
	}
	got, requests := hooks.notifications()
	require.Equal(t, map[string]api.Notification{"carol": {
		UserId: "carol", ConversationId: conv, Seq: msg.Seq, MessageId: msg.Id, SenderId: "alice", Mention: true, UnreadCount: 1,
	}}, got, "bob's socket got it, dave muted the conversation, erin blocks alice")
	require.Equal(t, map[string]int{"carol": 1}, requests, "one request")
	require.Equal(t, oneToN(msg.Seq), hooks.eventSeqs(conv), "every event of the conversation, in seq order")
}

func TestNotificationsOnlyForRecipientsWhoseSocketsMissedTheMessage(t *testing.T) {
	t.Parallel()
	hooks := newHookReceiver(t)
	s := newTestServer(t, withoutRateLimits, hooks.configure)
	base := serveTest(t, s)
	notificationStory(t, hooks, []*Server{s}, base, base)
}

// Bob's socket is on the other node than the one alice writes to, and either node may decide.
func TestNotificationsOnTwoNodesKnowWhatTheOtherNodeDelivered(t *testing.T) {
	t.Parallel()
	hooks := newHookReceiver(t)
	c := newCluster(t, testRedisURL())
	a, baseA := c.node(t, "node-a", withoutRateLimits, hooks.configure)
	b, baseB := c.node(t, "node-b", withoutRateLimits, hooks.configure)
	notificationStory(t, hooks, []*Server{a, b}, baseA, baseB)
}
