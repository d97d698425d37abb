package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/gen/api"
)

// slowStore is a memStore whose log reads wait for a turn, or fail while told to.
type slowStore struct {
	*memStore
	reading chan struct{} // a read has begun
	proceed chan struct{} // one read may finish
	fail    error
}

func (s *slowStore) EventsBetween(ctx context.Context, conv uuid.UUID, after, before int64, limit int) ([]StoredEvent, error) {
	if s.fail != nil {
		return nil, s.fail
	}
	s.reading <- struct{}{}
	select {
	case <-s.proceed:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return s.memStore.EventsBetween(ctx, conv, after, before, limit)
}

// serveHub serves the hub's WebSockets on a test server; ?user= names the caller.
func serveHub(t *testing.T, hub *Hub) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hub.Serve(w, r, r.URL.Query().Get("user"), time.Time{})
	}))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http")
}

// dialResume connects as user, reads ready and asks to resume conv after seq 0.
func dialResume(t *testing.T, url, user string, conv uuid.UUID) *websocket.Conn {
	t.Helper()
	ws, _, err := websocket.Dial(t.Context(), url+"?user="+user, &websocket.DialOptions{Subprotocols: []string{Subprotocol}})
	require.NoError(t, err)
	t.Cleanup(func() { ws.CloseNow() })
	require.Equal(t, "ready", readFrameType(t, ws))
	frame, err := json.Marshal(api.ResumeFrame{Type: api.ResumeFrameTypeResume, Cursors: api.Cursors{conv.String(): 0}})
	require.NoError(t, err)
	require.NoError(t, ws.Write(t.Context(), websocket.MessageText, frame))
	return ws
}

func readFrameType(t *testing.T, ws *websocket.Conn) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	_, data, err := ws.Read(ctx)
	require.NoError(t, err)
	var f struct{ Type string }
	require.NoError(t, json.Unmarshal(data, &f))
	return f.Type
}

// closeStatus reads until the server closes the connection and returns its close code.
func closeStatus(t *testing.T, ws *websocket.Conn) websocket.StatusCode {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	for {
		if _, _, err := ws.Read(ctx); err != nil {
			require.NoError(t, ctx.Err(), "the server did not close the connection")
			return websocket.CloseStatus(err)
		}
	}
}

func setupResumeHub(t *testing.T, configure func(*HubConfig)) (string, *slowStore, uuid.UUID) {
	t.Helper()
	store := &slowStore{memStore: newMemStore(), reading: make(chan struct{}, 4), proceed: make(chan struct{}, 4)}
	conv := uuid.New()
	store.setMembers(conv, "alice", "bob")
	b := setupHub(t, func(cfg *HubConfig) {
		cfg.MaxConcurrentResumes = 1
		cfg.WriteTimeout = 100 * time.Millisecond
		configure(cfg)
	})
	b.hub.log.store = store
	return serveHub(t, b.hub), store, conv
}

// Waiting for a resume slot is not writing: a resume that waits longer than WriteTimeout for the
// only slot is still served once the slot comes free.
func TestResumeWaitingForASlotIsNotWriting(t *testing.T) {
	t.Parallel()
	url, store, conv := setupResumeHub(t, func(cfg *HubConfig) { cfg.ResumeSlotWait = 5 * time.Second })

	alice := dialResume(t, url, "alice", conv)
	<-store.reading // alice holds the only slot, reading the log
	bob := dialResume(t, url, "bob", conv)
	// Alice keeps the slot for three write timeouts: the span under test, during which bob waits.
	<-time.After(3 * 100 * time.Millisecond)
	store.proceed <- struct{}{}
	require.Equal(t, "resumed", readFrameType(t, alice))
	<-store.reading
	store.proceed <- struct{}{}
	require.Equal(t, "resumed", readFrameType(t, bob))
}

// A client that cannot get a resume slot in time is told to try again (1013), and so is one whose
// replay cannot be read from the store.
func TestResumeClosesWithTryAgainLater(t *testing.T) {
	t.Parallel()
	t.Run("no slot in time", func(t *testing.T) {
		t.Parallel()
		url, store, conv := setupResumeHub(t, func(cfg *HubConfig) { cfg.ResumeSlotWait = 100 * time.Millisecond })
		dialResume(t, url, "alice", conv)
		<-store.reading // alice holds the only slot and keeps it
		bob := dialResume(t, url, "bob", conv)
		require.Equal(t, websocket.StatusTryAgainLater, closeStatus(t, bob))
		store.proceed <- struct{}{}
	})
	t.Run("store down", func(t *testing.T) {
		t.Parallel()
		url, store, conv := setupResumeHub(t, func(cfg *HubConfig) {})
		store.fail = errors.New("connection refused")
		alice := dialResume(t, url, "alice", conv)
		require.Equal(t, websocket.StatusTryAgainLater, closeStatus(t, alice))
	})
}
