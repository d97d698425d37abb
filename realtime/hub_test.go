package realtime

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/gen/api"
	"github.com/parleyhq/parley/internal/lifecycle"
)

// memStore is a Store held in memory: members per conversation and the event log, with a count of
// the MembersOf calls the hub makes.
type memStore struct {
	mu        sync.Mutex
	members   map[uuid.UUID][]string
	events    map[uuid.UUID][]StoredEvent
	membersOf map[uuid.UUID]int
}

func newMemStore() *memStore {
	return &memStore{
		members:   make(map[uuid.UUID][]string),
		events:    make(map[uuid.UUID][]StoredEvent),
		membersOf: make(map[uuid.UUID]int),
	}
}

func (s *memStore) setMembers(conv uuid.UUID, users ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.members[conv] = users
}

func (s *memStore) addEvent(conv uuid.UUID, seq int64, payload []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events[conv] = append(s.events[conv], StoredEvent{Seq: seq, Payload: payload})
	slices.SortFunc(s.events[conv], func(a, b StoredEvent) int { return int(a.Seq - b.Seq) })
}

func (s *memStore) membersOfCalls(conv uuid.UUID) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.membersOf[conv]
}

// lastSeqLocked is the seq the conversation stands at: its newest stored event.
func (s *memStore) lastSeqLocked(conv uuid.UUID) int64 {
	if events := s.events[conv]; len(events) > 0 {
		return events[len(events)-1].Seq
	}
	return 0
}

func (s *memStore) ConversationsOf(_ context.Context, userID string) ([]Membership, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Membership
	for conv, users := range s.members {
		if slices.Contains(users, userID) {
			out = append(out, Membership{ConversationID: conv, AsOf: s.lastSeqLocked(conv)})
		}
	}
	return out, nil
}

func (s *memStore) MembersOf(_ context.Context, conv uuid.UUID) ([]string, int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.membersOf[conv]++
	return slices.Clone(s.members[conv]), s.lastSeqLocked(conv), nil
}

func (s *memStore) EventsBetween(_ context.Context, conv uuid.UUID, after, before int64, limit int) ([]StoredEvent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []StoredEvent
	for _, e := range s.events[conv] {
		if e.Seq > after && (before <= 0 || e.Seq < before) && len(out) < limit {
			out = append(out, e)
		}
	}
	return out, nil
}

type hubBundle struct {
	hub   *Hub
	store *memStore
}

// setupHub returns a running hub of a node alone, with a small queue and an in-memory store; the
// hub is stopped when the test ends.
func setupHub(t *testing.T, configure ...func(*HubConfig)) hubBundle {
	t.Helper()
	cfg := DefaultHubConfig()
	cfg.QueueSize = 8
	for _, f := range configure {
		f(&cfg)
	}
	store := newMemStore()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	hub, err := NewHub(cfg, store, nil, NewMetrics(prometheus.NewRegistry()), logger)
	require.NoError(t, err)
	require.NoError(t, hub.Start(context.Background()))
	t.Cleanup(func() { require.NoError(t, hub.Stop(context.Background())) })
	return hubBundle{hub: hub, store: store}
}

// newConn makes a connection of user in the hub's run, without a socket and not registered.
func (b hubBundle) newConn(t *testing.T, user string) *Conn {
	t.Helper()
	run := b.hub.life.Running()
	require.NotNil(t, run, "hub running")
	return newConn(run.Context(), b.hub.env, nil, nil, user, time.Time{})
}

// connect registers a connection of user, without a socket, subscribed to convs, which have no
// event yet.
func (b hubBundle) connect(t *testing.T, user string, convs ...uuid.UUID) *Conn {
	t.Helper()
	return b.connectAt(t, user, 0, convs...)
}

// connectAt is connect for conversations that stand at seq asOf.
func (b hubBundle) connectAt(t *testing.T, user string, asOf int64, convs ...uuid.UUID) *Conn {
	t.Helper()
	c := b.newConn(t, user)
	require.NoError(t, b.hub.register(c))
	memberships := make([]Membership, len(convs))
	for i, id := range convs {
		memberships[i] = Membership{ConversationID: id, AsOf: asOf}
	}
	b.hub.subscribeInitial(c, memberships)
	return c
}

// eventPayload is an api.Event in JSON: a message.created event, or for member.* types an event
// about member.
func eventPayload(t *testing.T, conv uuid.UUID, seq int64, typ api.EventType, member string) []byte {
	t.Helper()
	at := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC).Add(time.Duration(seq) * time.Second)
	ev := api.Event{ConversationId: conv, Seq: seq, Type: typ, ActorId: "alice", CreatedAt: at}
	switch typ {
	case api.EventTypeMemberAdded, api.EventTypeMemberRemoved:
		ev.Member = &api.Member{UserId: member, Role: api.RoleMember, JoinedAt: at}
	default:
		ev.Message = &api.Message{
			Id: uuid.New(), ConversationId: conv, Seq: seq, SenderId: "alice",
			ClientMsgId: "m" + uuid.NewString()[:8], Body: "hello", CreatedAt: at,
		}
	}
	data, err := json.Marshal(ev)
	require.NoError(t, err)
	return data
}

func message(t *testing.T, conv uuid.UUID, seq int64) Envelope {
	t.Helper()
	return Envelope{ConversationID: conv, Seq: seq, Payload: eventPayload(t, conv, seq, api.EventTypeMessageCreated, ""), CommittedAt: time.Now()}
}

func memberEvent(t *testing.T, conv uuid.UUID, seq int64, typ api.EventType, user string) Envelope {
	t.Helper()
	return Envelope{ConversationID: conv, Seq: seq, Payload: eventPayload(t, conv, seq, typ, user), CommittedAt: time.Now()}
}

func (b hubBundle) deliver(t *testing.T, envs ...Envelope) {
	t.Helper()
	require.NoError(t, b.hub.Deliver(context.Background(), envs))
}

// takePending takes the frames in the queue of a connection that is not served (its writer never
// runs), without waiting.
func takePending(c *Conn) []*outFrame {
	c.mu.Lock()
	defer c.mu.Unlock()
	frames := c.pending
	c.pending = nil
	return frames
}

// queued takes what is in the connection's queue now, without waiting; the writer's own
// bookkeeping items (where a conversation starts) are left out.
func queued(c *Conn) []outFrame {
	var out []outFrame
	for _, f := range takePending(c) {
		if f.kind != frameSubscribe {
			out = append(out, *f)
		}
	}
	return out
}

// receive waits for n frames on the connection's queue, failing after within.
func receive(t *testing.T, c *Conn, n int, within time.Duration) []outFrame {
	t.Helper()
	var out []outFrame
	deadline := time.Now().Add(within)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		for _, f := range takePending(c) {
			out = append(out, *f)
		}
		if len(out) >= n {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d frames within %v: %v", len(out), n, within, out)
		}
		<-tick.C
	}
}

// frameRef names a durable frame as "conversation/seq", with the conversation id shortened.
type frameRef string

func ref(conv uuid.UUID, seq int64) frameRef {
	return frameRef(fmt.Sprintf("%s/%d", conv.String()[:8], seq))
}

// events are the durable frames in order, as (conversation, seq); it fails on any other kind.
func events(t *testing.T, frames []outFrame) []frameRef {
	t.Helper()
	var out []frameRef
	for _, f := range frames {
		require.Equal(t, frameEvent, f.kind, "frame %s", f.data)
		out = append(out, ref(f.conv, f.seq))
	}
	return out
}

func refs(conv uuid.UUID, seqs ...int64) []frameRef {
	out := make([]frameRef, len(seqs))
	for i, s := range seqs {
		out[i] = ref(conv, s)
	}
	return out
}

func TestHubEventFrameCarriesTheEvent(t *testing.T) {
	t.Parallel()
	b := setupHub(t)
	conv := uuid.New()
	alice := b.connect(t, "alice", conv)

	env := message(t, conv, 1)
	b.deliver(t, env)

	frames := queued(alice)
	require.Len(t, frames, 1)
	var frame api.EventFrame
	require.NoError(t, json.Unmarshal(frames[0].data, &frame))
	require.Equal(t, api.EventFrameType("event"), frame.Type)
	require.Equal(t, conv, frame.Event.ConversationId)
	require.Equal(t, int64(1), frame.Event.Seq)
	require.Equal(t, api.EventTypeMessageCreated, frame.Event.Type)
	require.Equal(t, env.CommittedAt, frames[0].committedAt)
}

func TestHubRoutesEventsToSubscribersOnly(t *testing.T) {
	t.Parallel()
	b := setupHub(t)
	conv1, conv2 := uuid.New(), uuid.New()
	alice := b.connect(t, "alice", conv1)
	alice2 := b.connect(t, "alice", conv1)
	bob := b.connect(t, "bob", conv2)
	carol := b.connect(t, "carol", conv1, conv2)

	b.deliver(t, message(t, conv1, 1), message(t, conv2, 1), message(t, conv1, 2))
	b.deliver(t, message(t, conv2, 2))

	require.Equal(t, refs(conv1, 1, 2), events(t, queued(alice)))
	require.Equal(t, refs(conv1, 1, 2), events(t, queued(alice2)))
	require.Equal(t, refs(conv2, 1, 2), events(t, queued(bob)))
	require.Equal(t, []frameRef{ref(conv1, 1), ref(conv2, 1), ref(conv1, 2), ref(conv2, 2)}, events(t, queued(carol)))
	require.Zero(t, b.store.membersOfCalls(conv1)+b.store.membersOfCalls(conv2), "known conversations need no store")
}

func TestHubDeliversEachEventOnceInOrder(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		batches [][]int64
		want    []int64
	}{
		{name: "in order", batches: [][]int64{{1, 2, 3}}, want: []int64{1, 2, 3}},
		{name: "delivered twice", batches: [][]int64{{1, 2, 3}, {1, 2, 3}}, want: []int64{1, 2, 3}},
		{name: "repeated within a batch", batches: [][]int64{{1, 1, 2, 2, 3}}, want: []int64{1, 2, 3}},
		{name: "held then released", batches: [][]int64{{1}, {3}, {2}, {4}}, want: []int64{1, 2, 3, 4}},
		{name: "held then released, reversed", batches: [][]int64{{1, 5, 4, 3, 2}}, want: []int64{1, 2, 3, 4, 5}},
		{name: "held, delivered twice", batches: [][]int64{{1, 3, 3}, {2, 3, 2}}, want: []int64{1, 2, 3}},
		// The conversation's first two events arrive out of order (two dispatchers publishing
		// concurrently): the earlier one must not be dropped as a duplicate.
		{name: "out of order from the start", batches: [][]int64{{2}, {1}}, want: []int64{1, 2}},
		{name: "out of order from the start, then more", batches: [][]int64{{2}, {1}, {3}}, want: []int64{1, 2, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setupHub(t)
			conv := uuid.New()
			alice := b.connect(t, "alice", conv)
			for _, batch := range tt.batches {
				var envs []Envelope
				for _, seq := range batch {
					envs = append(envs, message(t, conv, seq))
				}
				b.deliver(t, envs...)
			}
			require.Equal(t, refs(conv, tt.want...), events(t, queued(alice)))
		})
	}
}

func TestHubShedsEphemeralFramesFirst(t *testing.T) {
	t.Parallel()
	b := setupHub(t) // queue of 8: ephemeral frames are shed from 4 queued on
	conv := uuid.New()
	alice := b.connect(t, "alice", conv)
	typing := Signal{ConversationID: conv, UserID: "bob", SkipUser: true, Frame: []byte(`{"type":"typing"}`)}

	b.deliver(t, message(t, conv, 1), message(t, conv, 2), message(t, conv, 3))
	b.hub.DeliverSignal(typing) // 3 queued: fits
	b.hub.DeliverSignal(typing) // 4 queued: shed
	b.deliver(t, message(t, conv, 4))
	b.hub.DeliverSignal(typing) // shed
	b.deliver(t, message(t, conv, 5), message(t, conv, 6), message(t, conv, 7))

	require.NoError(t, alice.ctx.Err(), "durable events still fit")
	frames := queued(alice)
	require.Len(t, frames, 8)
	var kinds []frameKind
	for _, f := range frames {
		kinds = append(kinds, f.kind)
	}
	require.Equal(t, []frameKind{frameEvent, frameEvent, frameEvent, frameEphemeral, frameEvent, frameEvent, frameEvent, frameEvent}, kinds)
}

func TestHubSlowConsumerIsCancelled(t *testing.T) {
	t.Parallel()
	b := setupHub(t)
	conv := uuid.New()
	slow := b.connect(t, "alice", conv)
	fast := b.connect(t, "bob", conv)

	for seq := int64(1); seq <= 8; seq++ {
		b.deliver(t, message(t, conv, seq))
		queued(fast)
	}
	require.NoError(t, slow.ctx.Err(), "a full queue is not yet an overflow")

	b.deliver(t, message(t, conv, 9))
	require.ErrorIs(t, context.Cause(slow.ctx), errSlowConsumer)
	require.NoError(t, fast.ctx.Err(), "the other connection keeps up")
	require.Equal(t, refs(conv, 9), events(t, queued(fast)))
}

func TestHubSkipUser(t *testing.T) {
	t.Parallel()
	b := setupHub(t)
	conv, other := uuid.New(), uuid.New()
	alice1 := b.connect(t, "alice", conv)
	alice2 := b.connect(t, "alice", conv)
	bob := b.connect(t, "bob", conv)
	carol := b.connect(t, "carol", other)

	typing := Signal{ConversationID: conv, UserID: "alice", SkipUser: true, Frame: []byte(`{"type":"typing","user_id":"alice"}`)}
	read := Signal{ConversationID: conv, UserID: "alice", Frame: []byte(`{"type":"read","user_id":"alice","seq":1}`)}
	b.hub.DeliverSignal(typing)
	b.hub.DeliverSignal(read)

	require.Equal(t, []outFrame{{kind: frameEphemeral, data: read.Frame}}, queued(alice1))
	require.Equal(t, []outFrame{{kind: frameEphemeral, data: read.Frame}}, queued(alice2))
	require.Equal(t, []outFrame{{kind: frameEphemeral, data: typing.Frame}, {kind: frameEphemeral, data: read.Frame}}, queued(bob))
	require.Empty(t, queued(carol), "another conversation")
}

func TestHubSignalThroughBrokerSkipsTypingUser(t *testing.T) {
	t.Parallel()
	b := setupHub(t)
	conv := uuid.New()
	alice := b.connect(t, "alice", conv)
	bob := b.connect(t, "bob", conv)

	r := &reader{c: alice, typing: newTypingLimiter(DefaultHubConfig()), lastTyping: make(map[uuid.UUID]time.Time)}
	r.typingFrame(conv, time.Now())

	require.Empty(t, queued(alice))
	frames := queued(bob)
	require.Len(t, frames, 1)
	var typing api.TypingFrame
	require.NoError(t, json.Unmarshal(frames[0].data, &typing))
	require.Equal(t, api.TypingFrame{Type: api.TypingFrameTypeTyping, ConversationId: conv, UserId: "alice"}, typing)
}

func TestHubMemberAddedSubscribesConnectedUser(t *testing.T) {
	t.Parallel()
	b := setupHub(t)
	conv := uuid.New()
	b.store.setMembers(conv, "bob")
	bob := b.connect(t, "bob", conv)
	alice1 := b.connect(t, "alice")
	alice2 := b.connect(t, "alice")

	b.deliver(t, message(t, conv, 1))
	b.store.setMembers(conv, "bob", "alice")
	b.deliver(t, memberEvent(t, conv, 2, api.EventTypeMemberAdded, "alice"), message(t, conv, 3))

	require.Equal(t, refs(conv, 1, 2, 3), events(t, queued(bob)))
	require.Equal(t, refs(conv, 2, 3), events(t, queued(alice1)))
	require.Equal(t, refs(conv, 2, 3), events(t, queued(alice2)))
	require.True(t, b.hub.isMember(alice1, conv))
	require.Zero(t, b.store.membersOfCalls(conv))
}

func TestHubMemberAddedToConversationNewHere(t *testing.T) {
	t.Parallel()
	b := setupHub(t)
	conv := uuid.New()
	alice := b.connect(t, "alice")
	b.store.setMembers(conv, "carol", "alice")

	b.deliver(t, memberEvent(t, conv, 5, api.EventTypeMemberAdded, "alice"))
	b.deliver(t, message(t, conv, 6))

	require.Equal(t, refs(conv, 5, 6), events(t, queued(alice)))
	require.Zero(t, b.store.membersOfCalls(conv), "the event names the member")
}

// TestHubMemberAddedOutOfOrder: a new conversation's first events add alice (seq 1) then bob
// (seq 2), and reach this node in the opposite order. Both are connected here; both must be
// subscribed and receive every event from their own member.added on.
func TestHubMemberAddedOutOfOrder(t *testing.T) {
	t.Parallel()
	b := setupHub(t)
	conv := uuid.New()
	alice := b.connect(t, "alice")
	bob := b.connect(t, "bob")
	b.store.setMembers(conv, "alice", "bob")

	b.deliver(t, memberEvent(t, conv, 2, api.EventTypeMemberAdded, "bob"))
	b.deliver(t, memberEvent(t, conv, 1, api.EventTypeMemberAdded, "alice"))
	b.deliver(t, message(t, conv, 3))

	// The late addition still subscribes alice, from the start of the conversation: her writer
	// reads seqs 1 and 2 back from the log before it sends 3.
	require.True(t, b.hub.isMember(alice, conv))
	var starts []int64
	var sent []frameRef
	for _, f := range takePending(alice) {
		if f.kind == frameSubscribe {
			starts = append(starts, f.seq)
		} else {
			sent = append(sent, events(t, []outFrame{*f})...)
		}
	}
	require.Equal(t, []int64{0}, starts)
	require.Equal(t, refs(conv, 3), sent)
	require.Equal(t, refs(conv, 2, 3), events(t, queued(bob)))
}

func TestHubMemberRemovedStopsDelivery(t *testing.T) {
	t.Parallel()
	b := setupHub(t)
	conv := uuid.New()
	b.store.setMembers(conv, "alice", "bob")
	alice := b.connect(t, "alice", conv)
	bob := b.connect(t, "bob", conv)

	b.deliver(t, message(t, conv, 1))
	b.store.setMembers(conv, "bob")
	b.deliver(t, memberEvent(t, conv, 2, api.EventTypeMemberRemoved, "alice"), message(t, conv, 3))
	b.hub.DeliverSignal(Signal{ConversationID: conv, UserID: "bob", Frame: []byte(`{"type":"read"}`)})

	require.Equal(t, refs(conv, 1, 2), events(t, queued(alice)), "the removed member sees its removal, then nothing")
	require.False(t, b.hub.isMember(alice, conv))
	bobFrames := queued(bob)
	require.Len(t, bobFrames, 4)
	require.Equal(t, refs(conv, 1, 2, 3), events(t, bobFrames[:3]))
	require.Equal(t, frameEphemeral, bobFrames[3].kind)
}

func TestHubMemberRemovedLastLocalMember(t *testing.T) {
	t.Parallel()
	b := setupHub(t)
	conv := uuid.New()
	b.store.setMembers(conv, "alice", "dave")
	alice := b.connect(t, "alice", conv)

	b.deliver(t, message(t, conv, 1))
	b.store.setMembers(conv, "dave")
	b.deliver(t, memberEvent(t, conv, 2, api.EventTypeMemberRemoved, "alice"))
	b.deliver(t, message(t, conv, 3), message(t, conv, 4))

	require.Equal(t, refs(conv, 1, 2), events(t, queued(alice)))
	require.False(t, b.hub.isMember(alice, conv))
	require.Equal(t, 1, b.store.membersOfCalls(conv), "asked once after the last local member left, then cached")
}

func TestHubUnknownConversation(t *testing.T) {
	t.Parallel()
	b := setupHub(t)
	known, nobody := uuid.New(), uuid.New()
	alice1 := b.connect(t, "alice")
	alice2 := b.connect(t, "alice")
	bob := b.connect(t, "bob")
	// Members connected before the conversation existed: no event has subscribed them yet.
	b.store.setMembers(known, "alice", "carol")
	b.store.setMembers(nobody, "dave")

	b.deliver(t, message(t, known, 1))
	b.deliver(t, message(t, known, 2))
	require.Equal(t, 1, b.store.membersOfCalls(known))
	require.Equal(t, refs(known, 1, 2), events(t, queued(alice1)))
	require.Equal(t, refs(known, 1, 2), events(t, queued(alice2)))
	require.Empty(t, queued(bob))

	b.deliver(t, message(t, nobody, 1))
	b.deliver(t, message(t, nobody, 2), message(t, nobody, 3))
	require.Equal(t, 1, b.store.membersOfCalls(nobody), "a conversation with no local member is cached")
	require.Empty(t, queued(alice1))
	require.Empty(t, queued(bob))
}

func TestHubRegisterForgetsUnknownConversation(t *testing.T) {
	t.Parallel()
	b := setupHub(t)
	conv := uuid.New()
	b.store.setMembers(conv, "dave")

	b.deliver(t, message(t, conv, 1))
	require.Equal(t, 1, b.store.membersOfCalls(conv))

	// dave connects: the conversation (at seq 1) is his, and no longer unknown here.
	dave := b.connectAt(t, "dave", 1, conv)
	b.deliver(t, message(t, conv, 2))
	require.Equal(t, refs(conv, 2), events(t, queued(dave)))
	require.Equal(t, 1, b.store.membersOfCalls(conv))
}

func TestHubFillsGapFromStore(t *testing.T) {
	t.Parallel()
	b := setupHub(t, func(cfg *HubConfig) { cfg.ReorderTimeout = 20 * time.Millisecond })
	conv := uuid.New()
	alice := b.connect(t, "alice", conv)
	second := message(t, conv, 2)
	b.store.addEvent(conv, 1, message(t, conv, 1).Payload)
	b.store.addEvent(conv, 2, second.Payload) // committed, lost on the way here
	b.store.addEvent(conv, 3, message(t, conv, 3).Payload)

	b.deliver(t, message(t, conv, 1))
	b.deliver(t, message(t, conv, 3)) // held: 2 is missing

	frames := receive(t, alice, 3, 5*time.Second)
	require.Equal(t, refs(conv, 1, 2, 3), events(t, frames))
	require.JSONEq(t, string(second.Payload), string(eventPayloadOf(t, frames[1].data)), "2 is read from the store")

	// 2 arriving late from the broker is a duplicate.
	b.deliver(t, second, message(t, conv, 4))
	require.Equal(t, refs(conv, 4), events(t, queued(alice)))
}

// The bus lost the last events of a conversation (Redis restarted empty): no later event opens a
// gap that would bring them. CatchUp reads them from the store, in order, and the bus delivering
// them after all is a duplicate.
func TestHubCatchUpReadsWhatTheBusLost(t *testing.T) {
	t.Parallel()
	b := setupHub(t)
	conv, quiet := uuid.New(), uuid.New()
	alice := b.connectAt(t, "alice", 1, conv)
	bob := b.connectAt(t, "bob", 1, quiet)
	for seq := int64(1); seq <= 4; seq++ {
		b.store.addEvent(conv, seq, message(t, conv, seq).Payload)
	}
	b.store.addEvent(quiet, 1, message(t, quiet, 1).Payload)
	b.deliver(t, message(t, conv, 2)) // 3 and 4 are lost on the way

	require.NoError(t, b.hub.CatchUp(context.Background()))
	require.Equal(t, refs(conv, 2, 3, 4), events(t, queued(alice)))
	require.Empty(t, queued(bob), "nothing new in a conversation the bus lost nothing of")

	b.deliver(t, message(t, conv, 4), message(t, conv, 5))
	require.Equal(t, refs(conv, 5), events(t, queued(alice)))
}

// eventPayloadOf returns the event inside an event frame.
func eventPayloadOf(t *testing.T, frame []byte) json.RawMessage {
	t.Helper()
	var f struct {
		Type  string          `json:"type"`
		Event json.RawMessage `json:"event"`
	}
	require.NoError(t, json.Unmarshal(frame, &f))
	require.Equal(t, "event", f.Type)
	return f.Event
}

func TestHubStopCancelsConnections(t *testing.T) {
	t.Parallel()
	b := setupHub(t)
	conv := uuid.New()
	alice := b.connect(t, "alice", conv)

	late := b.newConn(t, "bob") // made in the run, registered once it has ended
	require.NoError(t, b.hub.Stop(context.Background()))
	require.ErrorIs(t, context.Cause(alice.ctx), lifecycle.ErrStopped)
	require.Error(t, b.hub.register(late), "a stopped hub takes no connection")
}

// A conversation created while a member's connection is still connecting (registered, its read of
// the user's conversations under way and too early to see it): the events that arrive meanwhile
// reach the connection once it is subscribed, not only with the conversation's next event.
func TestHubConnectingConnectionGetsConversationCreatedMeanwhile(t *testing.T) {
	t.Parallel()
	b := setupHub(t)
	conv := uuid.New()
	c := b.newConn(t, "alice")
	require.NoError(t, b.hub.register(c))

	b.store.setMembers(conv, "alice", "bob")
	for seq := int64(1); seq <= 2; seq++ {
		env := message(t, conv, seq)
		b.store.addEvent(conv, seq, env.Payload)
		b.deliver(t, env)
	}
	b.hub.subscribeInitial(c, nil) // the read saw no conversation
	require.Equal(t, refs(conv, 1, 2), events(t, queued(c)))

	b.store.addEvent(conv, 3, message(t, conv, 3).Payload)
	b.deliver(t, message(t, conv, 3))
	require.Equal(t, refs(conv, 3), events(t, queued(c)))
}

// A connection added to a conversation while still connecting gets the member.added event.
func TestHubConnectingConnectionGetsItsOwnAddition(t *testing.T) {
	t.Parallel()
	b := setupHub(t)
	conv := uuid.New()
	b.connectAt(t, "bob", 4, conv) // the conversation has a connection here already
	c := b.newConn(t, "alice")
	require.NoError(t, b.hub.register(c))

	b.deliver(t, memberEvent(t, conv, 5, api.EventTypeMemberAdded, "alice"))
	b.hub.subscribeInitial(c, nil)
	require.Equal(t, refs(conv, 5), events(t, queued(c)))
}

// membersGate is a memStore whose MembersOf waits until released, so a test can act while the hub
// reads a conversation's members.
type membersGate struct {
	*memStore
	entered chan struct{}
	release chan struct{}
}

func (s *membersGate) MembersOf(ctx context.Context, conv uuid.UUID) ([]string, int64, error) {
	s.entered <- struct{}{}
	<-s.release
	return s.memStore.MembersOf(ctx, conv)
}

// A connection that subscribes to a conversation from its own read (standing at seq 1) while the
// hub reads that conversation's members for its first event keeps where it started: it is not
// sent back to the conversation's beginning, which would replay seq 1 to it from the log.
func TestHubMembersReadRacingAConnectKeepsItsStart(t *testing.T) {
	t.Parallel()
	b := setupHub(t)
	gate := &membersGate{memStore: b.store, entered: make(chan struct{}), release: make(chan struct{})}
	b.hub.log.store = gate
	conv := uuid.New()
	b.store.setMembers(conv, "bob")
	first := message(t, conv, 1)
	b.store.addEvent(conv, 1, first.Payload)

	delivered := make(chan error, 1)
	go func() { delivered <- b.hub.Deliver(context.Background(), []Envelope{first}) }()
	<-gate.entered
	bob := b.connectAt(t, "bob", 1, conv)
	close(gate.release)
	require.NoError(t, <-delivered)

	for _, f := range takePending(bob) {
		require.NotEqual(t, frameSubscribe, f.kind, "the connection was sent back to seq %d", f.seq)
		require.NotEqual(t, int64(1), f.seq, "seq 1 is before where the connection started")
	}
}
