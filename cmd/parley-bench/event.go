package main

import (
	"bytes"
	"encoding/json"
	"strconv"
)

var eventFramePrefix = []byte(`{"type":"event","event":`)

func frameType(data []byte) string {
	var f struct {
		Type string `json:"type"`
	}
	_ = json.Unmarshal(data, &f)
	return f.Type
}

// benchEvent is what the bench needs of an event.
type benchEvent struct {
	conv    []byte
	seq     int64
	message bool   // a message.created event
	sentAt  int64  // unix nanos from the message body, 0 when absent
	reactor []byte // the user of a reaction.added event, nil for any other
}

// parseEvent reads an event payload without decoding it all: at tens of thousands of frames a
// second on the same machine as the server, a full decode would be a large share of the CPU. It
// relies on the Event schema: "seq" and "conversation_id" mean the same in the event and in its
// message, and no other field has those names. Keys may come in any order and with spaces (the
// server stores events as jsonb). Anything unexpected falls back to a full decode.
func parseEvent(payload []byte) (benchEvent, bool) {
	conv, ok := stringField(payload, `"conversation_id"`)
	if !ok || len(conv) != 36 {
		return parseEventSlow(payload)
	}
	seqRaw, ok := rawField(payload, `"seq"`)
	if !ok {
		return parseEventSlow(payload)
	}
	seq, err := strconv.ParseInt(string(seqRaw), 10, 64)
	if err != nil {
		return parseEventSlow(payload)
	}
	ev := benchEvent{conv: conv, seq: seq}
	typ, ok := stringField(payload, `"type"`)
	if !ok {
		return parseEventSlow(payload)
	}
	ev.message = string(typ) == "message.created"
	if ev.message {
		if body, ok := stringField(payload, `"body"`); ok {
			ev.sentAt = sentAtFromBody(body)
		}
	}
	if string(typ) == "reaction.added" {
		// the reaction's user_id: the only user_id of the event (its author is actor_id)
		if ev.reactor, ok = stringField(payload, `"user_id"`); !ok {
			return parseEventSlow(payload)
		}
	}
	return ev, true
}

func parseEventSlow(payload []byte) (benchEvent, bool) {
	var e struct {
		ConversationID string `json:"conversation_id"`
		Seq            int64  `json:"seq"`
		Type           string `json:"type"`
		Message        *struct {
			Body string `json:"body"`
		} `json:"message"`
		Reaction *struct {
			UserID string `json:"user_id"`
		} `json:"reaction"`
	}
	if err := json.Unmarshal(payload, &e); err != nil || e.ConversationID == "" || e.Seq < 1 {
		return benchEvent{}, false
	}
	ev := benchEvent{conv: []byte(e.ConversationID), seq: e.Seq, message: e.Type == "message.created"}
	if ev.message && e.Message != nil {
		ev.sentAt = sentAtFromBody([]byte(e.Message.Body))
	}
	if e.Type == "reaction.added" && e.Reaction != nil {
		ev.reactor = []byte(e.Reaction.UserID)
	}
	return ev, true
}

// rawField returns the bytes of the first value of key (a quoted name) up to the next comma or
// closing brace, trimmed: a number.
func rawField(data []byte, key string) ([]byte, bool) {
	i := bytes.Index(data, []byte(key))
	if i < 0 {
		return nil, false
	}
	rest := skipColon(data[i+len(key):])
	if rest == nil {
		return nil, false
	}
	end := bytes.IndexAny(rest, ",}")
	if end < 0 {
		return nil, false
	}
	return bytes.TrimSpace(rest[:end]), true
}

// stringField returns the first string value of key, when it has no escapes.
func stringField(data []byte, key string) ([]byte, bool) {
	i := bytes.Index(data, []byte(key))
	if i < 0 {
		return nil, false
	}
	rest := skipColon(data[i+len(key):])
	if len(rest) == 0 || rest[0] != '"' {
		return nil, false
	}
	rest = rest[1:]
	end := bytes.IndexByte(rest, '"')
	if end < 0 || bytes.IndexByte(rest[:end], '\\') >= 0 {
		return nil, false
	}
	return rest[:end], true
}

func skipColon(b []byte) []byte {
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) == 0 || b[0] != ':' {
		return nil
	}
	return bytes.TrimLeft(b[1:], " \t\r\n")
}

// sentAtFromBody reads the send time a bench message carries: "t=<unix nanos> ...".
func sentAtFromBody(body []byte) int64 {
	if !bytes.HasPrefix(body, []byte("t=")) {
		return 0
	}
	body = body[2:]
	end := bytes.IndexByte(body, ' ')
	if end >= 0 {
		body = body[:end]
	}
	t, err := strconv.ParseInt(string(body), 10, 64)
	if err != nil {
		return 0
	}
	return t
}

// messageBody is a bench message: the send time, padded to size.
func messageBody(sentAt int64, size int) string {
	s := "t=" + strconv.FormatInt(sentAt, 10)
	if len(s)+1 < size {
		s += " " + string(bytes.Repeat([]byte{'x'}, size-len(s)-1))
	}
	return s
}
