package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/gen/api"
)

// PresenceVisible makes memStore a PresenceVisibility: users who share a conversation.
func (s *memStore) PresenceVisible(_ context.Context, viewer string, users []string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, u := range users {
		for _, members := range s.members {
			if slices.Contains(members, viewer) && slices.Contains(members, u) {
				out = append(out, u)
				break
			}
		}
	}
	return out, nil
}

// failingVisibility cannot say who shares a conversation: PostgreSQL is down.
type failingVisibility struct{}

func (failingVisibility) PresenceVisible(context.Context, string, []string) ([]string, error) {
	return nil, errors.New("connection refused")
}

// presenceBundle is a running hub whose presence runs on a fake clock, with a conversation
// shared by wendy (who watches), alice and bob; carol shares none with them.
type presenceBundle struct {
	hubBundle
	clock   *clockwork.FakeClock
	tracker *PresenceTracker
	metrics *Metrics
}

var presenceEpoch = time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)

func setupPresence(t *testing.T, clock *clockwork.FakeClock, configure ...func(*PresenceConfig)) presenceBundle {
	t.Helper()
	cfg := DefaultHubConfig()
	cfg.QueueSize = 64
	for _, f := range configure {
		f(&cfg.Presence)
	}
	store := newMemStore()
	store.setMembers(uuid.New(), "wendy", "alice", "bob")
	store.setMembers(uuid.New(), "carol", "dave")
	metrics := NewMetrics(prometheus.NewRegistry())
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	hub, err := NewHub(cfg, store, nil, metrics, logger)
	require.NoError(t, err)
	hub.presence = newPresenceTracker(cfg.Presence, store, clock, metrics.presence, logger)
	require.NoError(t, hub.Start(context.Background()))
	t.Cleanup(func() { require.NoError(t, hub.Stop(context.Background())) })
	return presenceBundle{hubBundle: hubBundle{hub: hub, store: store}, clock: clock, tracker: hub.presence, metrics: metrics}
}

// advance moves the clock on by d and waits for the fires timer callbacks that come due to run.
func (b presenceBundle) advance(t *testing.T, d time.Duration, fires int) {
	t.Helper()
	before := b.tracker.fired.Load()
	b.clock.Advance(d)
	require.Eventually(t, func() bool { return b.tracker.fired.Load() >= before+int64(fires) },
		5*time.Second, time.Millisecond, "%d timer callbacks after advancing %s", fires, d)
	require.Equal(t, before+int64(fires), b.tracker.fired.Load(), "timer callbacks after advancing %s", d)
}

// timers waits until the tracker has n timers pending on the fake clock.
func (b presenceBundle) timers(t *testing.T, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, b.clock.BlockUntilContext(ctx, n), "%d timers pending", n)
}

// presenceOut takes the presence and error frames queued to a connection that is not served.
func presenceOut(t *testing.T, c *Conn) (frames []api.PresenceFrame, errs []api.ErrorFrame) {
	t.Helper()
	for _, f := range takePending(c) {
		if f.kind != frameControl {
			continue
		}
		var head struct{ Type string }
		require.NoError(t, json.Unmarshal(f.data, &head))
		switch head.Type {
		case "presence":
			var pf api.PresenceFrame
			require.NoError(t, json.Unmarshal(f.data, &pf))
			frames = append(frames, pf)
		case "error":
			var ef api.ErrorFrame
			require.NoError(t, json.Unmarshal(f.data, &ef))
			errs = append(errs, ef)
		}
	}
	return frames, errs
}

// statuses reads a frame as user → status, in order.
func statuses(f api.PresenceFrame) []string {
	out := make([]string, len(f.Users))
	for i, u := range f.Users {
		out[i] = u.UserId + ":" + string(u.Status)
	}
	return out
}

// watcher connects wendy and subscribes her to users, returning her connection with the whole
// set's frame taken.
func (b presenceBundle) watcher(t *testing.T, users ...string) (*Conn, api.PresenceFrame) {
	t.Helper()
	w := b.connect(t, "wendy")
	w.presenceSubscribe(users)
	frames, errs := presenceOut(t, w)
	require.Empty(t, errs)
	require.Len(t, frames, 1, "the whole set, at once")
	return w, frames[0]
}

func TestPresenceOnlineThenOfflineAfterGrace(t *testing.T) {
	t.Parallel()
	b := setupPresence(t, clockwork.NewFakeClockAt(presenceEpoch))
	w, full := b.watcher(t, "alice", "bob")
	require.Equal(t, []string{"alice:offline", "bob:offline"}, statuses(full))

	alice := b.connect(t, "alice")
	b.advance(t, time.Second, 1) // the coalescing window
	frames, _ := presenceOut(t, w)
	require.Len(t, frames, 1)
	require.Equal(t, []string{"alice:online"}, statuses(frames[0]))

	b.hub.unregister(alice)
	b.advance(t, 10*time.Second-time.Millisecond, 0)
	frames, _ = presenceOut(t, w)
	require.Empty(t, frames, "still online within the grace")

	b.advance(t, time.Millisecond, 1) // the grace ends
	b.advance(t, time.Second, 1)      // the window
	frames, _ = presenceOut(t, w)
	require.Len(t, frames, 1)
	require.Equal(t, []string{"alice:offline"}, statuses(frames[0]))
	require.NotNil(t, frames[0].Users[0].LastSeenAt)
	require.True(t, frames[0].Users[0].LastSeenAt.Equal(presenceEpoch.Add(11*time.Second)), "last seen when the grace ended: %s", frames[0].Users[0].LastSeenAt)
	require.Equal(t, 2.0, testutil.ToFloat64(b.metrics.presence.online), "wendy and alice")
	require.Equal(t, 1.0, testutil.ToFloat64(b.metrics.presence.offline))
}

func TestPresenceReconnectWithinGraceSendsNothing(t *testing.T) {
	t.Parallel()
	b := setupPresence(t, clockwork.NewFakeClockAt(presenceEpoch))
	alice := b.connect(t, "alice")
	w, full := b.watcher(t, "alice")
	require.Equal(t, []string{"alice:online"}, statuses(full))

	b.hub.unregister(alice)
	b.advance(t, 5*time.Second, 0)
	b.connect(t, "alice")
	b.timers(t, 0) // the grace was called off, and nothing changed to send
	b.advance(t, time.Minute, 0)
	frames, _ := presenceOut(t, w)
	require.Empty(t, frames)
	require.Equal(t, 0.0, testutil.ToFloat64(b.metrics.presence.offline))
}

func TestPresenceCoalescesFlapsIntoOneFrame(t *testing.T) {
	t.Parallel()
	b := setupPresence(t, clockwork.NewFakeClockAt(presenceEpoch), func(c *PresenceConfig) { c.Grace = 100 * time.Millisecond })
	w, _ := b.watcher(t, "alice", "bob")

	// Within one window: alice online, offline, online again; bob online.
	alice := b.connect(t, "alice")
	b.hub.unregister(alice)
	b.advance(t, 100*time.Millisecond, 1) // alice's grace: offline
	b.connect(t, "alice")
	b.connect(t, "bob")
	b.advance(t, 900*time.Millisecond, 1) // the window ends
	frames, _ := presenceOut(t, w)
	require.Len(t, frames, 1, "several changes within a second: one frame")
	require.Equal(t, []string{"alice:online", "bob:online"}, statuses(frames[0]))

	// bob goes offline and comes back within a window: undone, not sent.
	bobConns := b.hub.users["bob"]
	for c := range bobConns {
		b.hub.unregister(c)
	}
	b.advance(t, 100*time.Millisecond, 1) // bob's grace: offline, the window starts
	b.connect(t, "bob")
	b.advance(t, time.Second, 1) // the window ends with nothing changed
	frames, _ = presenceOut(t, w)
	require.Empty(t, frames, "a change undone within the window is not sent")
}

func TestPresenceStrangersReadOffline(t *testing.T) {
	t.Parallel()
	b := setupPresence(t, clockwork.NewFakeClockAt(presenceEpoch))
	b.connect(t, "carol")
	b.connect(t, "alice")
	w, full := b.watcher(t, "carol", "alice", "zed", "alice")
	require.Equal(t, []string{"carol:offline", "alice:online", "zed:offline"}, statuses(full), "in the order asked, each once; strangers offline")
	require.Nil(t, full.Users[0].LastSeenAt)

	// A stranger's change is never sent: nothing even watches it.
	b.connect(t, "carol")
	b.timers(t, 0)
	frames, _ := presenceOut(t, w)
	require.Empty(t, frames)

	got, err := b.hub.Presence(context.Background(), "wendy", []string{"carol", "alice", "wendy"})
	require.NoError(t, err)
	require.Equal(t, []string{"carol:offline", "alice:online", "wendy:online"}, statuses(api.PresenceFrame{Users: got}))
}

func TestPresenceSubscriptionCapAndFailuresKeepTheSet(t *testing.T) {
	t.Parallel()
	b := setupPresence(t, clockwork.NewFakeClockAt(presenceEpoch))
	w, _ := b.watcher(t, "alice")

	tooMany := make([]string, 501)
	for i := range tooMany {
		tooMany[i] = fmt.Sprintf("user%d", i)
	}
	w.presenceSubscribe(tooMany)
	frames, errs := presenceOut(t, w)
	require.Empty(t, frames)
	require.Len(t, errs, 1)
	require.Equal(t, "too_many_subscriptions", errs[0].Code)

	// The set is unchanged: alice's change still comes.
	b.connect(t, "alice")
	b.advance(t, time.Second, 1)
	frames, _ = presenceOut(t, w)
	require.Len(t, frames, 1)
	require.Equal(t, []string{"alice:online"}, statuses(frames[0]))

	// PostgreSQL down: unavailable, the set unchanged.
	b.tracker.visible = failingVisibility{}
	w.presenceSubscribe([]string{"bob"})
	frames, errs = presenceOut(t, w)
	require.Empty(t, frames)
	require.Len(t, errs, 1)
	require.Equal(t, "unavailable", errs[0].Code)
	require.Equal(t, 1.0, testutil.ToFloat64(b.metrics.presence.subscriptions))
	require.Equal(t, 1.0, testutil.ToFloat64(b.metrics.presence.watched))
}

func TestPresenceSubscriptionEndsWithTheConnection(t *testing.T) {
	t.Parallel()
	b := setupPresence(t, clockwork.NewFakeClockAt(presenceEpoch))
	w, _ := b.watcher(t, "alice", "bob")
	b.connect(t, "alice") // a change pending in w's window
	b.hub.unregister(w)
	b.timers(t, 0)
	require.Equal(t, 0.0, testutil.ToFloat64(b.metrics.presence.subscriptions))
	require.Equal(t, 0.0, testutil.ToFloat64(b.metrics.presence.watched))
	b.tracker.mu.Lock()
	defer b.tracker.mu.Unlock()
	require.Empty(t, b.tracker.watchers)
	require.Empty(t, b.tracker.watches)
}

func TestPresenceSubscribeReplacesTheSet(t *testing.T) {
	t.Parallel()
	b := setupPresence(t, clockwork.NewFakeClockAt(presenceEpoch))
	w, _ := b.watcher(t, "alice")
	w.presenceSubscribe([]string{"bob"})
	frames, _ := presenceOut(t, w)
	require.Len(t, frames, 1)
	require.Equal(t, []string{"bob:offline"}, statuses(frames[0]))
	b.connect(t, "alice")
	b.timers(t, 0) // alice is not watched any more
	w.presenceSubscribe([]string{})
	frames, _ = presenceOut(t, w)
	require.Len(t, frames, 1)
	require.Empty(t, frames[0].Users)
	require.Equal(t, 0.0, testutil.ToFloat64(b.metrics.presence.subscriptions))
}

// The hub stopping is not everyone leaving: no offline transition, no frame.
func TestPresenceHubStopDoesNotFlapUsersOffline(t *testing.T) {
	t.Parallel()
	b := setupPresence(t, clockwork.NewFakeClockAt(presenceEpoch))
	b.connect(t, "alice")
	require.NoError(t, b.hub.Stop(context.Background()))
	b.timers(t, 0)
	require.Equal(t, 0.0, testutil.ToFloat64(b.metrics.presence.offline))
}

func TestPresenceSubscribeFrameDecodes(t *testing.T) {
	t.Parallel()
	f, err := decodeClientFrame([]byte(`{"type":"presence.subscribe","user_ids":["alice","b.o_b:x@y-z"]}`))
	require.NoError(t, err)
	require.Equal(t, []string{"alice", "b.o_b:x@y-z"}, f.userIDs)
	f, err = decodeClientFrame([]byte(`{"type":"presence.subscribe","user_ids":[]}`))
	require.NoError(t, err)
	require.Empty(t, f.userIDs)
	for _, bad := range []string{
		`{"type":"presence.subscribe"}`,
		`{"type":"presence.subscribe","user_ids":"alice"}`,
		`{"type":"presence.subscribe","user_ids":["al ice"]}`,
		`{"type":"presence.subscribe","user_ids":[""]}`,
		`{"type":"presence.subscribe","user_ids":["` + strings.Repeat("a", 129) + `"]}`,
	} {
		_, err := decodeClientFrame([]byte(bad))
		var refused *frameError
		require.ErrorAs(t, err, &refused, bad)
		require.Equal(t, "invalid_frame", refused.code, bad)
	}
}
