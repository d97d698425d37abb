package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/db/dbtest"
	"github.com/parleyhq/parley/devtoken"
	"github.com/parleyhq/parley/gen/api"
	"github.com/parleyhq/parley/gen/apiserver"
	"github.com/parleyhq/parley/realtime"
)

// testBundle is what a handler test needs: the handlers over a database of its own.
type testBundle struct {
	h    *Handlers
	pool *pgxpool.Pool
	live *liveStandIn
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	pool := dbtest.NewPool(t)
	live := &liveStandIn{}
	h, err := NewHandlers(handlerDeps(pool, prometheus.NewRegistry(), live))
	require.NoError(t, err)
	return &testBundle{h: h, pool: pool, live: live}
}

// handlerDeps is what handler tests run with: no hub and no dispatcher, but a stand-in for both
// that records what the handlers send them.
func handlerDeps(pool *pgxpool.Pool, registry *prometheus.Registry, live *liveStandIn) HandlerDeps {
	return HandlerDeps{Pool: pool, Registry: registry, Logger: discardLogger(), Signals: live, Outbox: live}
}

// liveStandIn stands in for the hub and the dispatcher in handler tests.
type liveStandIn struct {
	mu      sync.Mutex
	signals []realtime.Signal
	wakes   int
}

func (l *liveStandIn) Signal(_ context.Context, s realtime.Signal) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.signals = append(l.signals, s)
	return nil
}

func (l *liveStandIn) Wake() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.wakes++
}

func (l *liveStandIn) recorded() (signals []realtime.Signal, wakes int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.signals), l.wakes
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// as is a request context authenticated as user, as the auth middleware builds it.
func as(t *testing.T, user string) context.Context {
	return WithUserID(t.Context(), user)
}

// expect asserts that a handler answered with response type T and returns it.
func expect[T any](t *testing.T, resp any, err error) T {
	t.Helper()
	require.NoError(t, err)
	got, ok := resp.(T)
	require.Truef(t, ok, "response is %T, want %T: %+v", resp, *new(T), resp)
	return got
}

func (b *testBundle) createGroup(t *testing.T, owner string, members ...string) api.Conversation {
	t.Helper()
	title := "group of " + owner
	resp, err := b.h.CreateConversation(as(t, owner), apiserver.CreateConversationRequestObject{Body: &api.CreateConversationJSONRequestBody{
		Type: api.ConversationTypeGroup, Title: &title, MemberIds: members,
	}})
	return api.Conversation(expect[apiserver.CreateConversation201JSONResponse](t, resp, err))
}

func (b *testBundle) send(t *testing.T, user string, conversationID uuid.UUID, body string) api.Message {
	t.Helper()
	resp, err := b.h.SendMessage(as(t, user), apiserver.SendMessageRequestObject{
		ConversationId: conversationID,
		Body:           &api.SendMessageJSONRequestBody{ClientMsgId: uuid.NewString(), Body: body},
	})
	return api.Message(expect[apiserver.SendMessage201JSONResponse](t, resp, err))
}

func (b *testBundle) addMember(t *testing.T, by string, conversationID uuid.UUID, user string, role api.AddMemberRequestRole) {
	t.Helper()
	resp, err := b.h.AddMember(as(t, by), apiserver.AddMemberRequestObject{
		ConversationId: conversationID,
		Body:           &api.AddMemberJSONRequestBody{UserId: user, Role: &role},
	})
	expect[apiserver.AddMember201JSONResponse](t, resp, err)
}

func (b *testBundle) events(t *testing.T, user string, conversationID uuid.UUID) []api.Event {
	t.Helper()
	limit := 200
	resp, err := b.h.ListEvents(as(t, user), apiserver.ListEventsRequestObject{ConversationId: conversationID, Params: api.ListEventsParams{Limit: &limit}})
	return expect[apiserver.ListEvents200JSONResponse](t, resp, err).Items
}

func ptr[T any](v T) *T { return &v }

func seqs(messages []api.Message) []int64 {
	out := make([]int64, len(messages))
	for i, m := range messages {
		out[i] = m.Seq
	}
	return out
}

func bodies(messages []api.Message) []string {
	out := make([]string, len(messages))
	for i, m := range messages {
		out[i] = m.Body
	}
	return out
}

func numbered(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, i+1)
	}
	return out
}

func timeZero() time.Time { return time.Time{} }

const testSecret = "test-secret-that-is-long-enough-for-hs256"

// newTestServer builds the whole server over a database of its own, verifying HS256 tokens
// signed with testSecret. It is closed when the test ends.
func newTestServer(t testing.TB, options ...func(*Config)) *Server {
	t.Helper()
	cfg := testConfig(dbtest.NewDatabase(t))
	for _, o := range options {
		o(&cfg)
	}
	s, err := New(context.Background(), cfg, discardLogger())
	require.NoError(t, err)
	t.Cleanup(s.Close)
	return s
}

// testConfig is the configuration test servers start from: the defaults over databaseURL, with
// HS256 tokens signed with testSecret.
func testConfig(databaseURL string) Config {
	cfg := DefaultConfig()
	cfg.DatabaseURL = databaseURL
	cfg.Auth = AuthConfig{Secret: []byte(testSecret)}
	cfg.DBMaxConns = 4
	return cfg
}

// withoutRateLimits is for tests that send faster than a person: they test delivery, not limits.
func withoutRateLimits(cfg *Config) { cfg.Limits = Limits{} }

func tokenFor(t testing.TB, user string) string {
	t.Helper()
	token, err := devtoken.Issue([]byte(testSecret), user, "", "", time.Hour)
	require.NoError(t, err)
	return token
}
