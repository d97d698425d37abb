package notify

import (
	"context"
	"sync"
	"time"

	"github.com/parleyhq/parley/realtime"
)

// ReceiptBook keeps which users' sockets received which new messages, long enough for the
// decider to ask once a message's notification delay has passed. The hub's writers tell it
// (realtime.Receipts); the decider asks ReceivedBy.
type ReceiptBook interface {
	realtime.Receipts
	// ReceivedBy returns the users at least one of whose sockets, on any node, received the event.
	ReceivedBy(ctx context.Context, event realtime.EventRef) (map[string]bool, error)
}

// ReceiptKeep is how long receipts are kept past the notification delay: the decider may run
// late (its node restarting, PostgreSQL slow) and must still find them. A receipt found no more
// costs at worst a notification for a message that was shown.
const ReceiptKeep = 10 * time.Minute

// MemoryReceipts is the ReceiptBook of a node alone. Receipts live in two generations, the
// current and the previous, swapped every keep: each is kept between keep and twice that, with no
// goroutine and no per-entry clock.
type MemoryReceipts struct {
	keep time.Duration
	now  func() time.Time

	mu                sync.Mutex
	current, previous map[realtime.EventRef]map[string]struct{}
	swapped           time.Time
}

// NewMemoryReceipts keeps receipts for at least keep.
func NewMemoryReceipts(keep time.Duration, now func() time.Time) *MemoryReceipts {
	return &MemoryReceipts{keep: keep, now: now, current: make(map[realtime.EventRef]map[string]struct{}), swapped: now()}
}

// Received records that the user's socket received the events.
func (m *MemoryReceipts) Received(userID string, events []realtime.EventRef) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.age()
	for _, e := range events {
		users := m.current[e]
		if users == nil {
			users = make(map[string]struct{}, 1)
			m.current[e] = users
		}
		users[userID] = struct{}{}
	}
}

// ReceivedBy returns who received the event.
func (m *MemoryReceipts) ReceivedBy(_ context.Context, event realtime.EventRef) (map[string]bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.age()
	out := make(map[string]bool)
	for _, gen := range []map[realtime.EventRef]map[string]struct{}{m.current, m.previous} {
		for user := range gen[event] {
			out[user] = true
		}
	}
	return out, nil
}

// age swaps the generations once the current one is keep old.
func (m *MemoryReceipts) age() {
	if now := m.now(); now.Sub(m.swapped) >= m.keep {
		m.previous, m.current, m.swapped = m.current, make(map[realtime.EventRef]map[string]struct{}), now
	}
}
