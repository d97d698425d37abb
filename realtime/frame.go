package realtime

import (
	"encoding/json"
	"errors"
	"strconv"

	"github.com/google/uuid"

	"github.com/parleyhq/parley/gen/api"
	"github.com/parleyhq/parley/internal/userid"
)

// clientFrame is one frame a client sent, decoded.
type clientFrame struct {
	typ     string
	cursors map[uuid.UUID]int64 // resume
	conv    uuid.UUID           // typing
	pingID  *string             // ping
	userIDs []string            // presence.subscribe
}

// errProtocolFrame is a frame that is not a JSON object with a type: the connection closes 1008.
var errProtocolFrame = errors.New("frame is not a JSON object with a type")

// frameError refuses one frame with an error frame; the connection stays open.
type frameError struct {
	code, message string
}

func (e *frameError) Error() string { return e.code + ": " + e.message }

// decodeClientFrame reads one text frame. It returns errProtocolFrame for frames that break the
// protocol and a *frameError for well-formed frames it refuses.
func decodeClientFrame(data []byte) (clientFrame, error) {
	var head struct {
		Type *string `json:"type"`
	}
	if err := json.Unmarshal(data, &head); err != nil || head.Type == nil {
		return clientFrame{}, errProtocolFrame
	}
	f := clientFrame{typ: *head.Type}
	switch f.typ {
	case string(api.ResumeFrameTypeResume):
		var rf api.ResumeFrame
		if err := json.Unmarshal(data, &rf); err != nil {
			return f, &frameError{"invalid_frame", "resume needs cursors: {conversation_id: seq ≥ 0}"}
		}
		f.cursors = make(map[uuid.UUID]int64, len(rf.Cursors))
		for key, seq := range rf.Cursors {
			id, err := uuid.Parse(key)
			if err != nil || seq < 0 {
				return f, &frameError{"invalid_frame", "resume needs cursors: {conversation_id: seq ≥ 0}"}
			}
			// Two spellings of one id (case, urn:uuid:, braces): which seq won would depend on
			// map iteration order.
			if _, dup := f.cursors[id]; dup {
				return f, &frameError{"invalid_frame", "resume names conversation " + id.String() + " twice"}
			}
			f.cursors[id] = seq
		}
	case string(api.TypingRequestFrameTypeTyping):
		var tf api.TypingRequestFrame
		if err := json.Unmarshal(data, &tf); err != nil || tf.ConversationId == uuid.Nil {
			return f, &frameError{"invalid_frame", "typing needs a conversation_id"}
		}
		f.conv = tf.ConversationId
	case string(api.PingFrameTypePing):
		var pf api.PingFrame
		if err := json.Unmarshal(data, &pf); err != nil {
			return f, &frameError{"invalid_frame", "ping takes an optional string id"}
		}
		f.pingID = pf.Id
	case string(api.PresenceSubscribeFrameTypePresenceSubscribe):
		var sf api.PresenceSubscribeFrame
		if err := json.Unmarshal(data, &sf); err != nil || sf.UserIds == nil {
			return f, &frameError{"invalid_frame", "presence.subscribe needs user_ids: [user id…]"}
		}
		for _, id := range sf.UserIds {
			if !userid.Valid(id) {
				return f, &frameError{"invalid_frame", "presence.subscribe has a user id that is not 1–128 of A-Z a-z 0-9 . _ : @ -: " + strconv.Quote(id)}
			}
		}
		f.userIDs = sf.UserIds
	default:
		return f, &frameError{"unknown_type", "unknown frame type " + strconv.Quote(f.typ)}
	}
	return f, nil
}
