package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/gen/api"
	"github.com/parleyhq/parley/gen/apiserver"
	"github.com/parleyhq/parley/realtime"
)

// setupPresence is a handler test bundle whose presence is a real hub's over the test database,
// not started: nobody is connected, so everyone is offline, and visibility is the database's.
func setupPresence(t *testing.T) *testBundle {
	t.Helper()
	b := setup(t)
	hub, err := realtime.NewHub(realtime.DefaultHubConfig(), realtime.NewPGStore(b.pool), nil, realtime.NewMetrics(prometheus.NewRegistry()), discardLogger())
	require.NoError(t, err)
	deps := handlerDeps(b.pool, prometheus.NewRegistry(), b.live)
	deps.Presence = hub
	b.h, err = NewHandlers(deps)
	require.NoError(t, err)
	return b
}

func presenceRows(items []api.Presence) []string {
	out := make([]string, len(items))
	for i, p := range items {
		out[i] = p.UserId + ":" + string(p.Status)
		if p.LastSeenAt != nil {
			out[i] += "@"
		}
	}
	return out
}

func TestGetPresenceInTheOrderAskedEachOnce(t *testing.T) {
	t.Parallel()
	b := setupPresence(t)
	b.createGroup(t, "alice", "bob")
	resp, err := b.h.GetPresence(as(t, "alice"), apiserver.GetPresenceRequestObject{Params: api.GetPresenceParams{UserIds: []string{"bob", "carol", "bob", "alice"}}})
	list := expect[apiserver.GetPresence200JSONResponse](t, resp, err)
	require.Equal(t, []string{"bob:offline", "carol:offline", "alice:offline"}, presenceRows(list.Items))
}

func TestGetPresenceRefusesBadUserIDs(t *testing.T) {
	t.Parallel()
	b := setupPresence(t)
	tooMany := make([]string, 501)
	for i := range tooMany {
		tooMany[i] = fmt.Sprintf("u%d", i)
	}
	for name, ids := range map[string][]string{"none": nil, "501": tooMany, "bad pattern": {"bob", "b ob"}, "empty id": {""}} {
		_, err := b.h.GetPresence(as(t, "alice"), apiserver.GetPresenceRequestObject{Params: api.GetPresenceParams{UserIds: ids}})
		var refused *problemError
		require.ErrorAs(t, err, &refused, name)
		require.Equal(t, http.StatusBadRequest, refused.status, name)
		require.Equal(t, "invalid_user_ids", refused.code, name)
	}
}

// Over HTTP, the spec validator refuses bad lists before the handler.
func TestGetPresenceValidatesOverHTTP(t *testing.T) {
	t.Parallel()
	base := serveTest(t, newTestServer(t, withoutRateLimits))
	token := tokenFor(t, "alice")
	tooMany := make([]string, 501)
	for i := range tooMany {
		tooMany[i] = fmt.Sprintf("u%d", i)
	}
	for _, query := range []string{"", "user_ids=", "user_ids=a%20b", "user_ids=" + strings.Join(tooMany, ",")} {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, base+"/v1/presence?"+query, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, "query %.40q", query)
	}
}

func TestPresenceLiveOnOneNode(t *testing.T) {
	t.Parallel()
	base := serveTest(t, newTestServer(t, withoutRateLimits))
	presenceLive(t, base, base)
}

func TestPresenceLiveOnTwoNodes(t *testing.T) {
	t.Parallel()
	c := newCluster(t, testRedisURL())
	_, baseA := c.node(t, "node-a", withoutRateLimits)
	_, baseB := c.node(t, "node-b", withoutRateLimits)
	presenceLive(t, baseA, baseB)
}

// presenceLive: bob and carol connect to node B; alice, on node A, shares a conversation with
// bob only. Her GET /v1/presence and her subscription both show bob online and carol, a
// stranger, offline.
func presenceLive(t *testing.T, baseA, baseB string) {
	alice := apiClient(t, baseA, "alice")
	createGroupVia(t, alice, "bob")
	bob := dialWS(t, baseB, tokenFor(t, "bob"))
	bob.nextOf("ready", 5*time.Second)
	carol := dialWS(t, baseB, tokenFor(t, "carol"))
	carol.nextOf("ready", 5*time.Second)

	var rows []string
	require.Eventually(t, func() bool {
		resp, err := alice.GetPresenceWithResponse(context.Background(), &api.GetPresenceParams{UserIds: []string{"carol", "bob"}})
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode(), string(resp.Body))
		rows = presenceRows(resp.JSON200.Items)
		return rows[1] == "bob:online"
	}, 10*time.Second, 10*time.Millisecond, "bob online: %v", rows)
	require.Equal(t, []string{"carol:offline", "bob:online"}, rows)

	ws := dialWS(t, baseA, tokenFor(t, "alice"))
	ws.ready(nil)
	ws.send(api.PresenceSubscribeFrame{Type: api.PresenceSubscribeFrameTypePresenceSubscribe, UserIds: []string{"bob", "carol"}})
	var frame api.PresenceFrame
	require.NoError(t, json.Unmarshal(ws.nextOf("presence", 5*time.Second).raw, &frame))
	require.Equal(t, []string{"bob:online", "carol:offline"}, presenceRows(frame.Users))

	ids := make([]string, 501)
	for i := range ids {
		ids[i] = fmt.Sprintf("u%d", i)
	}
	ws.send(api.PresenceSubscribeFrame{Type: api.PresenceSubscribeFrameTypePresenceSubscribe, UserIds: ids})
	var refused api.ErrorFrame
	require.NoError(t, json.Unmarshal(ws.nextOf("error", 5*time.Second).raw, &refused))
	require.Equal(t, "too_many_subscriptions", refused.Code)
}
