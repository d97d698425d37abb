package realtime

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/db/dbtest"
)

// Handshakes that arrive together read their memberships together; each still gets its own
// user's, as of the seq each conversation stands at, whoever it was batched with: a user of no
// conversation gets none, and two devices of one user both get that user's.
func TestConcurrentHandshakesReadTheirOwnMemberships(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t)
	ctx := context.Background()
	store := NewPGStore(pool)

	want := map[string]map[uuid.UUID]int64{"lonely": {}}
	for c := range 6 {
		conv := insertConversation(t, pool)
		_, err := pool.Exec(ctx, `UPDATE conversations SET last_seq = $2 WHERE id = $1`, conv, int64(c*10))
		require.NoError(t, err)
		// user u<k> is a member of the conversations c with c % (k+1) == 0
		for k := range 4 {
			if c%(k+1) != 0 {
				continue
			}
			user := fmt.Sprintf("u%d", k)
			_, err := pool.Exec(ctx, `INSERT INTO members (conversation_id, user_id, role) VALUES ($1, $2, 'member')`, conv, user)
			require.NoError(t, err)
			if want[user] == nil {
				want[user] = map[uuid.UUID]int64{}
			}
			want[user][conv] = int64(c * 10)
		}
	}

	users := []string{"u0", "u1", "u2", "u3", "lonely", "u1", "u3", "u0"}
	got := make([]map[uuid.UUID]int64, 100*len(users))
	var wg sync.WaitGroup
	for i := range got {
		wg.Go(func() {
			memberships, err := store.ConversationsOf(ctx, users[i%len(users)])
			require.NoError(t, err)
			got[i] = map[uuid.UUID]int64{}
			for _, m := range memberships {
				got[i][m.ConversationID] = m.AsOf
			}
		})
	}
	wg.Wait()
	for i, g := range got {
		require.Equal(t, want[users[i%len(users)]], g, "handshake %d, user %s", i, users[i%len(users)])
	}
}

// Replays and gap fills asked for at the same time share their reads of the log, but none gets
// a read older than its request: a read asked for after an event committed holds that event.
func TestSharedLogReadsAreNeverOlderThanTheirRequest(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t)
	ctx := context.Background()
	store := NewPGStore(pool)
	conv := insertConversation(t, pool)

	const events = 150
	var wg sync.WaitGroup
	for seq := int64(1); seq <= events; seq++ {
		insertEvent(t, pool, conv, seq)
		for _, after := range []int64{0, 0, 0, seq / 2} {
			wg.Go(func() {
				got, err := store.EventsBetween(ctx, conv, after, 0, events)
				require.NoError(t, err)
				require.GreaterOrEqual(t, int64(len(got)), seq-after, "a read asked for after seq %d committed", seq)
				for i, e := range got {
					require.Equal(t, after+int64(i)+1, e.Seq)
				}
			})
		}
	}
	wg.Wait()
}
