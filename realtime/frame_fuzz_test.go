package realtime

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/parleyhq/parley/gen/api"
)

// FuzzDecodeClientFrame feeds arbitrary bytes to the frame decoder, which reads whatever a client
// sends before anything else looks at it.
func FuzzDecodeClientFrame(f *testing.F) {
	addClientFrameSeeds(f)

	f.Fuzz(func(t *testing.T, data []byte) {
		frame, err := decodeClientFrame(data)
		if err != nil {
			checkFrameError(t, err)
			return
		}
		reencoded := canonicalFrame(t, data, frame)

		// What the decoder accepts must mean the same as its canonical encoding.
		raw, err := json.Marshal(reencoded)
		if err != nil {
			t.Fatalf("re-encode %+v: %v", frame, err)
		}
		again, err := decodeClientFrame(raw)
		if err != nil {
			t.Fatalf("re-encoded frame %s refused: %v", raw, err)
		}
		if !reflect.DeepEqual(frame, again) {
			t.Fatalf("round trip changed the frame:\n  input %q\n  first %+v\n  again %+v (from %s)", data, frame, again, raw)
		}
	})
}

// addClientFrameSeeds adds frames of every type a client may send, well formed and not: wrong
// envelopes, wrong field types, invalid UTF-8, cursors no seq can be, and deep nesting.
func addClientFrameSeeds(f *testing.F) {
	const conv = "0f8fad5b-d9cb-469f-a165-70867728950e"
	for _, seed := range []string{
		`{"type":"resume","cursors":{"` + conv + `":41}}`,
		`{"type":"resume","cursors":{"` + conv + `":0,"6ba7b810-9dad-11d1-80b4-00c04fd430c8":9007199254740993}}`,
		`{"type":"resume","cursors":{}}`,
		`{"type":"resume"}`,
		`{"type":"resume","cursors":null}`,
		`{"type":"typing","conversation_id":"` + conv + `"}`,
		`{"type":"ping","id":"abc"}`,
		`{"type":"ping"}`,
		`{"type":"ping","id":null}`,
		`{}`,
		`null`,
		`[]`,
		`""`,
		`42`,
		``,
		`{"type":null}`,
		`{"type":1}`,
		`{"type":"shout"}`,
		`{"type":""}`,
		`{"TYPE":"ping","ID":"case"}`,
		`{"type":"ping","type":"resume"}`,
		`{"type":"ping"} trailing`,
		`{"type":"ping","id":7}`,
		`{"type":"ping","id":"\ud800"}`,
		"{\"type\":\"ping\",\"id\":\"\xff\xfe\"}",
		"{\"type\":\"typ\xffing\"}",
		`{"type":"resume","cursors":{"` + conv + `":-1}}`,
		`{"type":"resume","cursors":{"` + conv + `":1e30}}`,
		`{"type":"resume","cursors":{"` + conv + `":99999999999999999999999}}`,
		`{"type":"resume","cursors":{"` + conv + `":1.5}}`,
		`{"type":"resume","cursors":{"` + conv + `":"1"}}`,
		`{"type":"resume","cursors":{"not-a-uuid":1}}`,
		`{"type":"resume","cursors":{"urn:uuid:` + conv + `":1}}`,
		`{"type":"resume","cursors":{"` + conv + `":1,"` + strings.ToUpper(conv) + `":2}}`,
		`{"type":"resume","cursors":[1,2]}`,
		`{"type":"resume","cursors":"` + conv + `"}`,
		`{"type":"resume","cursors":7}`,
		`{"type":"typing"}`,
		`{"type":"typing","conversation_id":"00000000-0000-0000-0000-000000000000"}`,
		`{"type":"typing","conversation_id":"nope"}`,
		`{"type":"typing","conversation_id":{}}`,
		`{"type":"ping","x":` + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + `}`,
		strings.Repeat(`{"a":`, 5000) + `1` + strings.Repeat(`}`, 5000),
	} {
		f.Add([]byte(seed))
	}
}

// checkFrameError checks that a refused frame is refused with a protocol error, which closes the
// connection, or with a frame error the client is told about by its code and message.
func checkFrameError(t *testing.T, err error) {
	t.Helper()
	var fe *frameError
	switch {
	case errors.Is(err, errProtocolFrame):
	case errors.As(err, &fe):
		if fe.code == "" || fe.message == "" {
			t.Fatalf("frame error without code or message: %#v", fe)
		}
	default:
		t.Fatalf("unexpected error type %T: %v", err, err)
	}
}

// canonicalFrame checks an accepted frame against the input it was decoded from, and returns the
// frame as the generated API type encodes it.
func canonicalFrame(t *testing.T, data []byte, frame clientFrame) any {
	t.Helper()
	switch frame.typ {
	case "resume":
		cursors := api.Cursors{}
		for id, seq := range frame.cursors {
			if seq < 0 {
				t.Fatalf("negative cursor %d for %s", seq, id)
			}
			cursors[id.String()] = seq
		}
		checkCursorsAgainstInput(t, data, frame.cursors)
		return api.ResumeFrame{Type: api.ResumeFrameTypeResume, Cursors: cursors}
	case "typing":
		if frame.conv == uuid.Nil {
			t.Fatal("typing frame accepted without a conversation id")
		}
		return api.TypingRequestFrame{Type: api.TypingRequestFrameTypeTyping, ConversationId: frame.conv}
	case "ping":
		return api.PingFrame{Type: api.PingFrameTypePing, Id: frame.pingID}
	default:
		t.Fatalf("accepted frame of type %q", frame.typ)
		return nil
	}
}

// checkCursorsAgainstInput decodes the cursors independently: every key must be a UUID, and every
// spelling of one conversation (case, urn:uuid:, braces) must carry the seq the decoder kept, or
// the replay position would depend on map iteration order.
func checkCursorsAgainstInput(t *testing.T, data []byte, cursors map[uuid.UUID]int64) {
	t.Helper()
	var rf api.ResumeFrame
	if err := json.Unmarshal(data, &rf); err != nil {
		t.Fatalf("decoder accepted a resume frame that does not decode: %v", err)
	}
	if len(rf.Cursors) < len(cursors) {
		t.Fatalf("decoded %d cursors from %d keys", len(cursors), len(rf.Cursors))
	}
	for key, seq := range rf.Cursors {
		id, err := uuid.Parse(key)
		if err != nil {
			t.Fatalf("accepted cursor key %q: %v", key, err)
		}
		if got, ok := cursors[id]; !ok || got != seq {
			t.Fatalf("cursor %q: %d in the frame, decoded as %d (present %v)", key, seq, got, ok)
		}
	}
}
