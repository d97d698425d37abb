package server

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/gen/api"
)

// Hostile and malformed requests to the chat routes (reactions, replies and mentions, search,
// blocks, settings) through the real router and middleware: each gets its 4xx as problem+json,
// with the code DESIGN.md or the spec names where they name one, never a 500; and none of them
// changes anything.
func TestBadChatInputGetsProblemNeverServerError(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, withoutRateLimits)
	fx := newChatFixture(t, s)

	cases := slices.Concat(
		badEmoji(fx),
		reactionRefusals(fx),
		badSearchQueries(fx),
		badCursors(fx),
		badMentions(fx),
		badReplyTargets(fx),
		badBlocks(fx),
		badSettings(fx),
	)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			requireProblem(t, tc, serveRequest(t, s, tc.method, tc.path, tc.contentType, tc.body, tc.token))
		})
	}
	t.Logf("bad chat inputs tried: %d", len(cases))

	fx.requireUntouched(t)
}

// chatFixture is a group conversation of alice's, with bob and 51 more members, holding a root
// message with a reply and two reactions, and a tombstone; and next_cursors of each paged chat
// route, to be sent where they do not belong.
type chatFixture struct {
	s            *Server
	alice, bob   string // tokens of members
	eve          string // the token of a user who is no member
	convPath     string
	members      []string // the members besides alice and bob
	root, reply  int64
	deleted      int64 // a tombstone's seq
	eventSeq     int64 // the seq of an event that is no message (the tombstone's message.deleted)
	reactorsPath string
	// next_cursors of the first page of each route.
	conversationCursor, reactorCursor, searchCursor string
	// messages are the conversation's messages once the fixture is made.
	messages api.MessagePage
}

func newChatFixture(t *testing.T, s *Server) chatFixture {
	t.Helper()
	fx := chatFixture{s: s, alice: tokenFor(t, "alice"), bob: tokenFor(t, "bob"), eve: tokenFor(t, "eve"), members: numbered("m", 51)}

	var conv api.Conversation
	fx.do(t, "POST", "/v1/conversations", fx.alice, map[string]any{"type": "group", "title": "chat", "member_ids": append([]string{"bob"}, fx.members...)}, http.StatusCreated, &conv)
	fx.convPath = "/v1/conversations/" + conv.Id.String()

	fx.root = fx.sendChat(t, map[string]any{"client_msg_id": "root", "body": "hello, the launch plan"})
	fx.reply = fx.sendChat(t, map[string]any{"client_msg_id": "reply", "body": "hello again", "reply_to_seq": fx.root})
	fx.deleted = fx.sendChat(t, map[string]any{"client_msg_id": "doomed", "body": "doomed words"})
	fx.do(t, "DELETE", fx.messagePath(fx.deleted), fx.alice, nil, http.StatusNoContent, nil)
	fx.do(t, "GET", fx.convPath, fx.alice, nil, http.StatusOK, &conv)
	fx.eventSeq = conv.LastSeq
	require.Greater(t, fx.eventSeq, fx.deleted)

	fx.reactorsPath = fx.messagePath(fx.root) + "/reactions/" + url.PathEscape("🎉")
	fx.do(t, "PUT", fx.reactorsPath, fx.alice, nil, http.StatusNoContent, nil)
	fx.do(t, "PUT", fx.reactorsPath, fx.bob, nil, http.StatusNoContent, nil)
	var reactors api.ReactorPage
	fx.do(t, "GET", fx.reactorsPath+"?limit=1", fx.alice, nil, http.StatusOK, &reactors)
	require.NotNil(t, reactors.NextCursor)
	fx.reactorCursor = *reactors.NextCursor

	fx.do(t, "POST", "/v1/conversations", fx.alice, map[string]any{"type": "direct", "member_ids": []string{"bob"}}, http.StatusCreated, nil)
	var conversations api.ConversationPage
	fx.do(t, "GET", "/v1/conversations?limit=1", fx.alice, nil, http.StatusOK, &conversations)
	require.NotNil(t, conversations.NextCursor)
	fx.conversationCursor = *conversations.NextCursor

	var hits api.SearchPage
	fx.do(t, "GET", "/v1/messages/search?q=hello&limit=1", fx.alice, nil, http.StatusOK, &hits)
	require.NotNil(t, hits.NextCursor)
	fx.searchCursor = *hits.NextCursor

	fx.do(t, "GET", fx.convPath+"/messages", fx.alice, nil, http.StatusOK, &fx.messages)
	return fx
}

// do sends body as JSON (none when nil) as the holder of token, requires status, and decodes the
// answer into out unless out is nil.
func (fx chatFixture) do(t *testing.T, method, path, token string, body any, status int, out any) {
	t.Helper()
	var raw []byte
	contentType := ""
	if body != nil {
		var err error
		raw, err = json.Marshal(body)
		require.NoError(t, err)
		contentType = "application/json"
	}
	rec := serveRequest(t, fx.s, method, path, contentType, raw, token)
	require.Equal(t, status, rec.Code, "%s %s: %s", method, path, rec.Body.String())
	if out != nil {
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), out))
	}
}

// sendChat sends a message as alice and returns its seq.
func (fx chatFixture) sendChat(t *testing.T, body map[string]any) int64 {
	t.Helper()
	var m api.Message
	fx.do(t, "POST", fx.convPath+"/messages", fx.alice, body, http.StatusCreated, &m)
	return m.Seq
}

func (fx chatFixture) messagePath(seq int64) string {
	return fx.convPath + "/messages/" + strconv.FormatInt(seq, 10)
}

// requireUntouched checks that the conversation, its messages and reactions, alice's blocks and
// her settings are as the fixture left them.
func (fx chatFixture) requireUntouched(t *testing.T) {
	t.Helper()
	var messages api.MessagePage
	fx.do(t, "GET", fx.convPath+"/messages", fx.alice, nil, http.StatusOK, &messages)
	require.Equal(t, fx.messages, messages)
	var blocks api.BlockList
	fx.do(t, "GET", "/v1/me/blocks", fx.alice, nil, http.StatusOK, &blocks)
	require.Empty(t, blocks.Items)
	var conversations api.ConversationPage
	fx.do(t, "GET", "/v1/conversations", fx.alice, nil, http.StatusOK, &conversations)
	require.Len(t, conversations.Items, 2)
	for _, c := range conversations.Items {
		require.False(t, c.Muted, "%s", c.Id)
	}
}

// badEmoji are path segments that are no emoji and no shortcode, each sent to add, remove and list
// reactions: too long, several graphemes, text, controls, invalid UTF-8, spaces and invisible
// characters, malformed shortcodes, and encodings of what should stay text.
func badEmoji(fx chatFixture) []badRequestCase {
	thumb := url.PathEscape("👍")
	segments := []struct{ name, segment string }{
		{"100Thumbs", url.PathEscape(strings.Repeat("👍", 100))},
		{"OneGraphemeOf65Bytes", url.PathEscape("☺" + strings.Repeat("\u0301", 31))},
		{"65Letters", strings.Repeat("a", 65)},
		{"TwoThumbs", url.PathEscape("👍👍")},
		{"TwoFlags", url.PathEscape("🇫🇷🇩🇪")},
		{"TwoLetters", "ab"},
		{"Letter", "a"},
		{"Digit", "1"},
		{"Plus", "+"},
		{"TextAndThumb", "ok" + thumb},
		{"NUL", "%00"},
		{"SOH", "%01"},
		{"DEL", "%7F"},
		{"Newline", "%0A"},
		{"ThumbNewline", thumb + "%0A"},
		{"ThumbNUL", thumb + "%00"},
		{"InvalidUTF8FF", "%FF"},
		{"InvalidUTF8C328", "%C3%28"},
		{"Surrogate", "%ED%A0%80"},
		{"ThumbFF", thumb + "%FF"},
		{"TruncatedThumb", "%F0%9F%91"},
		{"Space", "%20"},
		{"Tab", "%09"},
		{"NBSP", "%C2%A0"},
		{"ZeroWidthSpace", "%E2%80%8B"},
		{"LoneZWJ", "%E2%80%8D"},
		{"LoneVariationSelector", "%EF%B8%8F"},
		{"SpaceThumb", "%20" + thumb},
		{"ShortcodeUppercase", ":Parrot:"},
		{"ShortcodeEmpty", "::"},
		{"Shortcode33Chars", ":" + strings.Repeat("a", 33) + ":"},
		{"ShortcodeUnclosed", ":parrot"},
		{"ShortcodeSpace", ":par%20rot:"},
		{"ShortcodeAccent", url.PathEscape(":pärrot:")},
		{"ShortcodeSlash", ":a%2Fb:"},
		{"Colon", ":"},
		{"Slash", "%2F"},
		{"Percent", "%25"},
		{"DoublyEncodedThumb", url.PathEscape(thumb)},
	}
	var cases []badRequestCase
	for _, sg := range segments {
		path := fx.messagePath(fx.root) + "/reactions/" + sg.segment
		for _, method := range []string{"PUT", "DELETE", "GET"} {
			cases = append(cases, badRequestCase{"Emoji" + sg.name + method, method, path, "", nil, fx.alice, 400, "invalid_emoji"})
		}
	}
	return cases
}

// reactionRefusals are good emoji on messages that take none, or from users who may not react.
func reactionRefusals(fx chatFixture) []badRequestCase {
	thumb := "/reactions/" + url.PathEscape("👍")
	return []badRequestCase{
		{"ReactToTombstone", "PUT", fx.messagePath(fx.deleted) + thumb, "", nil, fx.alice, 409, "message_deleted"},
		{"ReactToUnknownSeq", "PUT", fx.messagePath(999) + thumb, "", nil, fx.alice, 404, "message_not_found"},
		{"ReactorsOfUnknownSeq", "GET", fx.messagePath(999) + thumb, "", nil, fx.alice, 404, "message_not_found"},
		{"ReactAsNonMember", "PUT", fx.messagePath(fx.root) + thumb, "", nil, fx.eve, 404, "conversation_not_found"},
		{"ReactorsAsNonMember", "GET", fx.reactorsPath, "", nil, fx.eve, 404, "conversation_not_found"},
		{"ReactSeqZero", "PUT", fx.messagePath(0) + thumb, "", nil, fx.alice, 400, ""},
	}
}

// badSearchQueries are values of q that are missing, empty, too long, hold nothing to search for,
// or are not text, and other parameters of the search out of range.
func badSearchQueries(fx chatFixture) []badRequestCase {
	const search = "/v1/messages/search"
	q := func(v string) string { return search + "?q=" + url.QueryEscape(v) }
	return []badRequestCase{
		{"SearchNoQ", "GET", search, "", nil, fx.alice, 400, ""},
		{"SearchEmptyQ", "GET", search + "?q=", "", nil, fx.alice, 400, ""},
		{"Search10KiB", "GET", q(strings.Repeat("a", 10<<10)), "", nil, fx.alice, 400, ""},
		{"Search257Chars", "GET", q(strings.Repeat("a", 257)), "", nil, fx.alice, 400, ""},
		{"Search257Runes", "GET", q(strings.Repeat("é", 257)), "", nil, fx.alice, 400, ""},
		{"SearchOnlyOperators", "GET", q(`"" - or -`), "", nil, fx.alice, 400, "invalid_query"},
		{"SearchBangs", "GET", q("!!!"), "", nil, fx.alice, 400, "invalid_query"},
		{"SearchAndOr", "GET", q("&|"), "", nil, fx.alice, 400, "invalid_query"},
		{"SearchTsqueryPunctuation", "GET", q(`<-> :* ( ) \ '`), "", nil, fx.alice, 400, "invalid_query"},
		{"SearchDashes", "GET", q("- - -"), "", nil, fx.alice, 400, "invalid_query"},
		{"SearchSpaces", "GET", q("   "), "", nil, fx.alice, 400, "invalid_query"},
		{"SearchStopwords", "GET", q("the and"), "", nil, fx.alice, 400, "invalid_query"},
		{"SearchQuotedStopwords", "GET", q(`"the and"`), "", nil, fx.alice, 400, "invalid_query"},
		{"SearchNegatedStopword", "GET", q("-the"), "", nil, fx.alice, 400, "invalid_query"},
		{"SearchNUL", "GET", search + "?q=%00", "", nil, fx.alice, 400, ""},
		{"SearchWordNUL", "GET", search + "?q=hello%00", "", nil, fx.alice, 400, ""},
		{"SearchInvalidUTF8FF", "GET", search + "?q=%FF", "", nil, fx.alice, 400, ""},
		{"SearchInvalidUTF8C328", "GET", search + "?q=hello%C3%28", "", nil, fx.alice, 400, ""},
		{"SearchSurrogate", "GET", search + "?q=%ED%A0%80", "", nil, fx.alice, 400, ""},
		{"SearchLimitZero", "GET", q("hello") + "&limit=0", "", nil, fx.alice, 400, "invalid_request"},
		{"SearchLimitTooLarge", "GET", q("hello") + "&limit=201", "", nil, fx.alice, 400, "invalid_request"},
		{"SearchConversationNotUUID", "GET", q("hello") + "&conversation_id=abc", "", nil, fx.alice, 400, ""},
		{"SearchConversationUnknown", "GET", q("hello") + "&conversation_id=" + uuid.NewString(), "", nil, fx.alice, 404, "conversation_not_found"},
	}
}

// badCursors are cursors no route returned, or that another route returned, on each paged chat
// route and on the conversation list. The made-up ones carry the route's own prefix, where its
// cursors have one, so that what follows the prefix is what gets refused.
func badCursors(fx chatFixture) []badRequestCase {
	id := uuid.NewString()
	routes := []struct{ name, path, kind string }{
		{"Search", "/v1/messages/search?q=hello&cursor=", searchCursorKind},
		{"Reactors", fx.reactorsPath + "?cursor=", reactorCursorKind},
		{"Conversations", "/v1/conversations?cursor=", ""},
	}
	var cases []badRequestCase
	for _, r := range routes {
		b64 := func(payload string) string { return base64.RawURLEncoding.EncodeToString([]byte(r.kind + payload)) }
		for _, g := range []struct{ name, cursor string }{
			{"Garbage", "!!!"},
			{"GarbageBytes", "%FF%00"},
			{"Base64OfGarbage", base64.RawURLEncoding.EncodeToString([]byte("foo"))},
			{"Base64OfPrefixAndSeparator", b64("|")},
			{"Base64OfNaN", b64("NaN|" + id)},
			{"Base64OfInf", b64("+Inf|" + id)},
			{"Base64OfOverflowedRank", b64("1e39|" + id)},
			{"Base64OfNoSeparator", b64("0.5")},
			{"Base64OfTwoSeparators", b64("||")},
			{"Base64OfBadID", b64("2026-11-27T10:00:00Z|not a user or uuid")},
			{"Base64OfBadTime", b64("yesterday|" + id)},
			{"Base64OfNUL", b64("0.5|" + id + "\x00")},
			{"Padded", b64("0.5|"+id) + "=="},
		} {
			cases = append(cases, badRequestCase{"Cursor" + g.name + "On" + r.name, "GET", r.path + g.cursor, "", nil, fx.alice, 400, "invalid_cursor"})
		}
		cases = append(cases,
			badRequestCase{"CursorEmptyOn" + r.name, "GET", r.path, "", nil, fx.alice, 400, ""},
			badRequestCase{"CursorTooLongOn" + r.name, "GET", r.path + strings.Repeat("c", 201), "", nil, fx.alice, 400, "invalid_request"},
		)
	}
	return append(cases,
		badRequestCase{"ConversationCursorOnSearch", "GET", routes[0].path + fx.conversationCursor, "", nil, fx.alice, 400, "invalid_cursor"},
		badRequestCase{"ReactorCursorOnSearch", "GET", routes[0].path + fx.reactorCursor, "", nil, fx.alice, 400, "invalid_cursor"},
		badRequestCase{"ConversationCursorOnReactors", "GET", routes[1].path + fx.conversationCursor, "", nil, fx.alice, 400, "invalid_cursor"},
		badRequestCase{"SearchCursorOnReactors", "GET", routes[1].path + fx.searchCursor, "", nil, fx.alice, 400, "invalid_cursor"},
		badRequestCase{"ReactorCursorOnConversations", "GET", routes[2].path + fx.reactorCursor, "", nil, fx.alice, 400, "invalid_cursor"},
		badRequestCase{"SearchCursorOnConversations", "GET", routes[2].path + fx.searchCursor, "", nil, fx.alice, 400, "invalid_cursor"},
	)
}

// chatSend is a request to send a message whose other fields are the given JSON members.
func chatSend(members string) []byte {
	return []byte(`{"client_msg_id":"bad","body":"hi",` + members + `}`)
}

// badMentions name users who are not members, too many members, or are not user ids at all.
func badMentions(fx chatFixture) []badRequestCase {
	send := fx.convPath + "/messages"
	mentions := func(ids []string) []byte {
		raw, _ := json.Marshal(ids)
		return chatSend(`"mentions":` + string(raw))
	}
	return []badRequestCase{
		{"MentionNonMember", "POST", send, jsonType, mentions([]string{"zed"}), fx.alice, 400, "invalid_mention"},
		{"MentionMemberAndNonMember", "POST", send, jsonType, mentions([]string{"bob", "zed"}), fx.alice, 400, "invalid_mention"},
		{"Mention51Members", "POST", send, jsonType, mentions(fx.members), fx.alice, 400, "invalid_mention"},
		{"Mention51MembersWithRepeats", "POST", send, jsonType, mentions(append(slices.Clone(fx.members), fx.members...)), fx.alice, 400, "invalid_mention"},
		{"MentionBadChars", "POST", send, jsonType, mentions([]string{"bob smith"}), fx.alice, 400, "invalid_request"},
		{"MentionEmptyID", "POST", send, jsonType, mentions([]string{""}), fx.alice, 400, "invalid_request"},
		{"MentionIDTooLong", "POST", send, jsonType, mentions([]string{strings.Repeat("u", 129)}), fx.alice, 400, "invalid_request"},
		{"MentionNUL", "POST", send, jsonType, chatSend(`"mentions":["bob\u0000"]`), fx.alice, 400, "invalid_request"},
		{"MentionsString", "POST", send, jsonType, chatSend(`"mentions":"bob"`), fx.alice, 400, "invalid_request"},
		{"MentionsObject", "POST", send, jsonType, chatSend(`"mentions":{"bob":true}`), fx.alice, 400, "invalid_request"},
		{"MentionsNumbers", "POST", send, jsonType, chatSend(`"mentions":[1]`), fx.alice, 400, "invalid_request"},
		{"MentionsNested", "POST", send, jsonType, chatSend(`"mentions":[["bob"]]`), fx.alice, 400, "invalid_request"},
		{"MentionsNull", "POST", send, jsonType, chatSend(`"mentions":null`), fx.alice, 400, ""},
	}
}

// badReplyTargets are reply_to_seq values that are no seq, or name no root message of the
// conversation: unknown, a reply, a tombstone, an event that is no message.
func badReplyTargets(fx chatFixture) []badRequestCase {
	send := fx.convPath + "/messages"
	replyTo := func(v string) []byte { return chatSend(`"reply_to_seq":` + v) }
	seq := func(n int64) []byte { return replyTo(strconv.FormatInt(n, 10)) }
	return []badRequestCase{
		{"ReplyToZero", "POST", send, jsonType, replyTo("0"), fx.alice, 400, "invalid_request"},
		{"ReplyToNegative", "POST", send, jsonType, replyTo("-1"), fx.alice, 400, "invalid_request"},
		{"ReplyToUnknownSeq", "POST", send, jsonType, seq(999), fx.alice, 400, "invalid_reply_target"},
		{"ReplyToMaxInt64", "POST", send, jsonType, seq(math.MaxInt64), fx.alice, 400, "invalid_reply_target"},
		{"ReplyToReply", "POST", send, jsonType, seq(fx.reply), fx.alice, 400, "invalid_reply_target"},
		{"ReplyToTombstone", "POST", send, jsonType, seq(fx.deleted), fx.alice, 400, "invalid_reply_target"},
		{"ReplyToEventSeq", "POST", send, jsonType, seq(fx.eventSeq), fx.alice, 400, "invalid_reply_target"},
		{"ReplyToString", "POST", send, jsonType, replyTo(`"1"`), fx.alice, 400, "invalid_request"},
		{"ReplyToFloat", "POST", send, jsonType, replyTo("1.5"), fx.alice, 400, ""},
		{"ReplyToOverflow", "POST", send, jsonType, replyTo("1e30"), fx.alice, 400, ""},
		{"ReplyToNull", "POST", send, jsonType, replyTo("null"), fx.alice, 400, ""},
		{"ReplyToArray", "POST", send, jsonType, replyTo("[1]"), fx.alice, 400, "invalid_request"},
	}
}

// badBlocks are user ids that are no user id, and the caller's own.
func badBlocks(fx chatFixture) []badRequestCase {
	var cases []badRequestCase
	for _, b := range []struct{ name, segment string }{
		{"TooLong", strings.Repeat("u", 129)},
		{"Space", "bob%20smith"},
		{"Slash", "b%2Fb"},
		{"Comma", "a,b"},
		{"QuestionMark", "bob%3F"},
		{"NUL", "%00"},
		{"Newline", "bob%0A"},
		{"InvalidUTF8", "%FF"},
		{"Accented", "%C3%A9lodie"},
	} {
		for _, method := range []string{"PUT", "DELETE"} {
			cases = append(cases, badRequestCase{"Block" + b.name + method, method, "/v1/me/blocks/" + b.segment, "", nil, fx.alice, 400, ""})
		}
	}
	return append(cases,
		badRequestCase{"BlockSelf", "PUT", "/v1/me/blocks/alice", "", nil, fx.alice, 400, "cannot_block_self"},
		badRequestCase{"BlockSelfEncoded", "PUT", "/v1/me/blocks/%61lice", "", nil, fx.alice, 400, "cannot_block_self"},
	)
}

// badSettings are bodies of PUT …/settings that are not {muted: bool}, and settings of a
// conversation that is not the caller's.
func badSettings(fx chatFixture) []badRequestCase {
	settings := fx.convPath + "/settings"
	body := func(s string) []byte { return []byte(s) }
	return []badRequestCase{
		{"SettingsMissingMuted", "PUT", settings, jsonType, body(`{}`), fx.alice, 400, "invalid_request"},
		{"SettingsMutedString", "PUT", settings, jsonType, body(`{"muted":"yes"}`), fx.alice, 400, "invalid_request"},
		{"SettingsMutedStringTrue", "PUT", settings, jsonType, body(`{"muted":"true"}`), fx.alice, 400, "invalid_request"},
		{"SettingsMutedNumber", "PUT", settings, jsonType, body(`{"muted":1}`), fx.alice, 400, "invalid_request"},
		{"SettingsMutedNull", "PUT", settings, jsonType, body(`{"muted":null}`), fx.alice, 400, ""},
		{"SettingsExtraField", "PUT", settings, jsonType, body(`{"muted":true,"extra":1}`), fx.alice, 400, "invalid_request"},
		{"SettingsArray", "PUT", settings, jsonType, body(`[]`), fx.alice, 400, ""},
		{"SettingsNull", "PUT", settings, jsonType, body(`null`), fx.alice, 400, ""},
		{"SettingsBare", "PUT", settings, jsonType, body(`true`), fx.alice, 400, ""},
		{"SettingsMalformed", "PUT", settings, jsonType, body(`{"muted":`), fx.alice, 400, "invalid_json"},
		{"SettingsNoBody", "PUT", settings, jsonType, nil, fx.alice, 400, "invalid_request"},
		{"SettingsText", "PUT", settings, "text/plain", body(`{"muted":true}`), fx.alice, 415, "unsupported_media_type"},
		{"SettingsUnknownConversation", "PUT", "/v1/conversations/" + uuid.NewString() + "/settings", jsonType, body(`{"muted":true}`), fx.alice, 404, "conversation_not_found"},
		{"SettingsConversationNotUUID", "PUT", "/v1/conversations/abc/settings", jsonType, body(`{"muted":true}`), fx.alice, 400, ""},
	}
}

// The contrast to the refusals above: good input at the limits is accepted, and an emoji comes
// back exactly as it was sent.
func TestChatInputAtTheLimitsIsAccepted(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, withoutRateLimits)
	fx := newChatFixture(t, s)

	t.Run("CursorsOnTheirOwnRoutes", func(t *testing.T) {
		var reactors api.ReactorPage
		fx.do(t, "GET", fx.reactorsPath+"?cursor="+fx.reactorCursor, fx.alice, nil, http.StatusOK, &reactors)
		require.Len(t, reactors.Items, 1)
		var conversations api.ConversationPage
		fx.do(t, "GET", "/v1/conversations?cursor="+fx.conversationCursor, fx.alice, nil, http.StatusOK, &conversations)
		require.Len(t, conversations.Items, 1)
		// Made-up cursors of the right shape are taken, as the refused ones above would be but for
		// what badCursors changed in them.
		b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
		fx.do(t, "GET", "/v1/messages/search?q=hello&cursor="+b64(searchCursorKind+"0.5|"+uuid.NewString()), fx.alice, nil, http.StatusOK, nil)
		fx.do(t, "GET", fx.reactorsPath+"?cursor="+b64(reactorCursorKind+"2026-11-27T10:00:00Z|alice"), fx.alice, nil, http.StatusOK, nil)
		fx.do(t, "GET", "/v1/conversations?cursor="+b64("2026-11-27T10:00:00Z|"+uuid.NewString()), fx.alice, nil, http.StatusOK, nil)
	})

	t.Run("Emoji", func(t *testing.T) {
		emoji := []string{"👍", "👍🏽", "👨‍👩‍👧", "🇫🇷", "1️⃣", ":parrot:", "🏴󠁧󠁢󠁳󠁣󠁴󠁿", ":" + strings.Repeat("z", 32) + ":"}
		path := func(e string) string { return fx.messagePath(fx.reply) + "/reactions/" + url.PathEscape(e) }
		for _, e := range emoji {
			fx.do(t, "PUT", path(e), fx.alice, nil, http.StatusNoContent, nil)
			fx.do(t, "PUT", path(e), fx.alice, nil, http.StatusNoContent, nil)
			var reactors api.ReactorPage
			fx.do(t, "GET", path(e), fx.alice, nil, http.StatusOK, &reactors)
			require.Len(t, reactors.Items, 1, e)
			require.Equal(t, "alice", reactors.Items[0].UserId)
		}
		m := fx.messageAt(t, fx.reply)
		want := make([]api.ReactionCount, len(emoji))
		for i, e := range emoji {
			want[i] = api.ReactionCount{Emoji: e, Count: 1}
		}
		require.Equal(t, want, m.Reactions)
		require.NotNil(t, m.MyReactions)
		require.Equal(t, emoji, *m.MyReactions)
		for _, e := range emoji {
			fx.do(t, "DELETE", path(e), fx.alice, nil, http.StatusNoContent, nil)
			fx.do(t, "DELETE", path(e), fx.alice, nil, http.StatusNoContent, nil)
		}
		require.Empty(t, fx.messageAt(t, fx.reply).Reactions)
	})

	t.Run("Mentions", func(t *testing.T) {
		var m api.Message
		fx.do(t, "POST", fx.convPath+"/messages", fx.alice, map[string]any{"client_msg_id": "fifty", "body": "all hands", "mentions": fx.members[:50]}, http.StatusCreated, &m)
		require.Equal(t, fx.members[:50], m.Mentions)
		repeated := append(slices.Clone(fx.members[:50]), fx.members[:50]...)
		fx.do(t, "POST", fx.convPath+"/messages", fx.alice, map[string]any{"client_msg_id": "fifty-twice", "body": "all hands again", "mentions": repeated}, http.StatusCreated, &m)
		require.Equal(t, fx.members[:50], m.Mentions, "repeats count once")
	})

	t.Run("Reply", func(t *testing.T) {
		var m api.Message
		fx.do(t, "POST", fx.convPath+"/messages", fx.alice, map[string]any{"client_msg_id": "reply-2", "body": "and again", "reply_to_seq": fx.root}, http.StatusCreated, &m)
		require.NotNil(t, m.ReplyToSeq)
		require.Equal(t, fx.root, *m.ReplyToSeq)
	})

	t.Run("Search", func(t *testing.T) {
		for _, q := range []string{"hello", strings.Repeat("a", 256), strings.Repeat("é", 256), `"unbalanced`, "hello -launch", "hello or nothing", "launch:*", "the launch"} {
			var page api.SearchPage
			fx.do(t, "GET", "/v1/messages/search?q="+url.QueryEscape(q), fx.alice, nil, http.StatusOK, &page)
		}
		var page api.SearchPage
		fx.do(t, "GET", "/v1/messages/search?q=hello&limit=1&cursor="+fx.searchCursor, fx.alice, nil, http.StatusOK, &page)
		require.Len(t, page.Items, 1)
	})

	t.Run("BlockAndSettings", func(t *testing.T) {
		user := strings.Repeat("u", 128)
		for range 2 {
			fx.do(t, "PUT", "/v1/me/blocks/"+user, fx.alice, nil, http.StatusNoContent, nil)
		}
		fx.do(t, "PUT", "/v1/me/blocks/a.b_c:d@e-f", fx.alice, nil, http.StatusNoContent, nil)
		var blocks api.BlockList
		fx.do(t, "GET", "/v1/me/blocks", fx.alice, nil, http.StatusOK, &blocks)
		require.Len(t, blocks.Items, 2)
		for range 2 {
			fx.do(t, "DELETE", "/v1/me/blocks/"+user, fx.alice, nil, http.StatusNoContent, nil)
		}
		var settings api.MemberSettings
		fx.do(t, "PUT", fx.convPath+"/settings", fx.alice, map[string]any{"muted": true}, http.StatusOK, &settings)
		require.True(t, settings.Muted)
	})
}

// messageAt is the message at seq as alice sees it.
func (fx chatFixture) messageAt(t *testing.T, seq int64) api.Message {
	t.Helper()
	var page api.MessagePage
	fx.do(t, "GET", fx.convPath+"/messages?after_seq="+strconv.FormatInt(seq-1, 10)+"&limit=1", fx.alice, nil, http.StatusOK, &page)
	require.Len(t, page.Items, 1)
	require.Equal(t, seq, page.Items[0].Seq)
	return page.Items[0]
}

// A user id in a path is the same user however its characters are percent-encoded: clients
// encode path segments (JavaScript's encodeURIComponent encodes '@' and ':', which user ids may
// hold), and the server decodes them before it checks them.
func TestChatUserIDPercentEncodedIsTheSameUser(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, withoutRateLimits)
	fx := newChatFixture(t, s)
	for _, path := range []string{"/v1/me/blocks/carol%40example.com", "/v1/me/blocks/auth0%3A123", "/v1/me/blocks/%64ave"} {
		fx.do(t, "PUT", path, fx.alice, nil, http.StatusNoContent, nil)
	}
	var blocks api.BlockList
	fx.do(t, "GET", "/v1/me/blocks", fx.alice, nil, http.StatusOK, &blocks)
	var blocked []string
	for _, b := range blocks.Items {
		blocked = append(blocked, b.UserId)
	}
	require.ElementsMatch(t, []string{"carol@example.com", "auth0:123", "dave"}, blocked)
	require.Equal(t, "m1", fx.members[0])
	fx.do(t, "DELETE", fx.convPath+"/members/m%31", fx.alice, nil, http.StatusNoContent, nil)
}
