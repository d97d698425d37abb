package server

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/gen/api"
	"github.com/parleyhq/parley/gen/apiserver"
)

// Seqs of a conversation are gap-free and unique however many senders race.
func TestConcurrentSendsTakeSeqsOneToN(t *testing.T) {
	t.Parallel()
	b := setup(t)
	senders := numbered("user", 5)
	conv := b.createGroup(t, "owner", senders...)

	const n = 50
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		got  []int64
		errs []error
	)
	for i := range n {
		wg.Go(func() {
			resp, err := b.h.SendMessage(as(t, senders[i%len(senders)]), apiserver.SendMessageRequestObject{
				ConversationId: conv.Id,
				Body:           &api.SendMessageJSONRequestBody{ClientMsgId: fmt.Sprintf("m-%d", i), Body: "race"},
			})
			mu.Lock()
			defer mu.Unlock()
			if msg, ok := resp.(apiserver.SendMessage201JSONResponse); ok && err == nil {
				got = append(got, msg.Seq)
				return
			}
			errs = append(errs, fmt.Errorf("send %d: %T %v", i, resp, err))
		})
	}
	wg.Wait()
	require.Empty(t, errs)
	slices.Sort(got)
	require.Equal(t, oneTo(n), got)

	events := b.events(t, "owner", conv.Id)
	require.Len(t, events, n)
	for i, e := range events {
		require.EqualValues(t, i+1, e.Seq)
	}
}

// Retries of one send that race each other store it once.
func TestConcurrentRetriesStoreOneMessage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	conv := b.createGroup(t, "alice", "bob")

	const n = 20
	var (
		wg             sync.WaitGroup
		mu             sync.Mutex
		created, again int
		ids            = map[string]bool{}
	)
	for range n {
		wg.Go(func() {
			resp, err := b.h.SendMessage(as(t, "alice"), apiserver.SendMessageRequestObject{
				ConversationId: conv.Id,
				Body:           &api.SendMessageJSONRequestBody{ClientMsgId: "same", Body: "once"},
			})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Errorf("send: %v", err)
				return
			}
			switch m := resp.(type) {
			case apiserver.SendMessage201JSONResponse:
				created++
				ids[m.Id.String()] = true
			case apiserver.SendMessage200JSONResponse:
				again++
				ids[m.Id.String()] = true
			default:
				t.Errorf("unexpected response %T", resp)
			}
		})
	}
	wg.Wait()
	require.Equal(t, 1, created)
	require.Equal(t, n-1, again)
	require.Len(t, ids, 1, "every retry returns the same message")

	list, err := b.h.ListMessages(as(t, "bob"), apiserver.ListMessagesRequestObject{ConversationId: conv.Id})
	require.Len(t, expect[apiserver.ListMessages200JSONResponse](t, list, err).Items, 1)
}
