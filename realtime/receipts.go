package realtime

import (
	"bytes"

	"github.com/google/uuid"
)

// Receipts learns which new messages were written to which users' sockets: a notification is
// requested only for a recipient none of whose sockets received the message in time.
type Receipts interface {
	// Received is told, after a write to one of userID's sockets succeeded, the message.created
	// events it carried. It must not block: it is called by the connection's writer.
	Received(userID string, events []EventRef)
}

// EventRef names one event.
type EventRef struct {
	ConversationID uuid.UUID
	Seq            int64
}

// SetReceipts makes the hub's writers tell r what they wrote. Call it before Start.
func (h *Hub) SetReceipts(r Receipts) { h.env.receipts = r }

// createdMarker recognises a replayed message.created event without decoding it: the type is the
// only place the payload has this JSON string unescaped, but for a field (a client_msg_id, say)
// that holds exactly it, whose false receipt is never asked for (it is not a message.created seq).
const createdMarker = `"message.created"`

// noteReceipt records that the batch under way carries a message.created event, when anyone
// listens.
func (w *writer) noteReceipt(conv uuid.UUID, seq int64) {
	if w.c.env.receipts != nil {
		w.receipts = append(w.receipts, EventRef{ConversationID: conv, Seq: seq})
	}
}

// noteReplayed is noteReceipt for an event read back from the log.
func (w *writer) noteReplayed(conv uuid.UUID, e StoredEvent) {
	if w.c.env.receipts != nil && bytes.Contains(e.Payload, []byte(createdMarker)) {
		w.receipts = append(w.receipts, EventRef{ConversationID: conv, Seq: e.Seq})
	}
}

// reportReceipts tells the listener what the batch just written carried.
func (w *writer) reportReceipts() {
	if len(w.receipts) == 0 {
		return
	}
	w.c.env.receipts.Received(w.c.userID, w.receipts)
	w.receipts = w.receipts[:0]
}
