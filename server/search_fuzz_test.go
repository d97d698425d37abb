package server

import (
	"context"
	"encoding/json"
	"errors"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/gen/api"
	"github.com/parleyhq/parley/gen/apiserver"
)

// FuzzSearchQuery sends arbitrary q to the message search, through the whole HTTP handler (spec
// validation, the handler, websearch_to_tsquery and ts_headline in PostgreSQL) and by calling
// the handler directly, which also sees what spec validation would refuse. No q is a 5xx or an
// unexpected error: each answer is 200 or a 400 problem, both ways alike; and what a search finds
// is only what the caller may see, with a snippet that is safe HTML.
func FuzzSearchQuery(f *testing.F) {
	sf := newSearchFuzzer(f)
	for _, q := range searchQuerySeeds() {
		f.Add(q)
	}

	f.Fuzz(func(t *testing.T, q string) {
		overHTTP := sf.searchOverHTTP(t, q)
		direct, refused := sf.searchDirectly(t, q)
		switch {
		case refused && overHTTP != nil:
			t.Fatalf("q %q: the handler refuses it, but over HTTP it is found", q)
		case !refused && overHTTP != nil && !slices.Equal(hitIDs(direct), hitIDs(*overHTTP)):
			t.Fatalf("q %q: the handler finds %v, over HTTP %v", q, hitIDs(direct), hitIDs(*overHTTP))
		}
	})
}

// searchFuzzer is what every fuzzed search shares: the server, handlers over its database, and
// the caller's messages as they are now, by id. The caller also has a tombstone, an edited
// message's old body, and a conversation of others' that must never be found.
type searchFuzzer struct {
	handler http.Handler
	h       *Handlers
	token   string
	// visible are the bodies of the messages the caller may find.
	visible map[uuid.UUID]string
}

const searchFuzzUser = "fuzzer"

func newSearchFuzzer(f *testing.F) searchFuzzer {
	s := newTestServer(f, withoutRateLimits) // searches count against the writes rate
	h, err := NewHandlers(handlerDeps(s.pool, prometheus.NewRegistry(), &liveStandIn{}))
	require.NoError(f, err)
	sf := searchFuzzer{handler: s.Handler(), h: h, token: tokenFor(f, searchFuzzUser), visible: map[uuid.UUID]string{}}

	ctx := WithUserID(context.Background(), searchFuzzUser)
	conv := searchFuzzConversation(ctx, f, h)
	for _, body := range []string{
		"hello world",
		"the launch plan is ready",
		"running runs ran runner",
		"café naïve 日本語 Привет мир hello",
		`<script>alert("x")</script> & <b>bold</b> &amp; hello`,
		`quote "this" and 'that' \ backslash hello`,
		"control \x01 and \x02 marks hello",
		`a:* b & c | !d <-> (e) or -f`,
		"emoji 👍 hello 🇫🇷",
		strings.Repeat("word ", 500) + "needle hello",
	} {
		m := searchFuzzSend(ctx, f, h, conv, body)
		sf.visible[m.Id] = body
	}
	edited := searchFuzzSend(ctx, f, h, conv, "zebra hello before the edit")
	resp, err := h.EditMessage(ctx, apiserver.EditMessageRequestObject{ConversationId: conv, Seq: edited.Seq, Body: &api.EditMessageRequest{Body: "giraffe hello after the edit"}})
	require.NoError(f, err)
	require.IsType(f, apiserver.EditMessage200JSONResponse{}, resp)
	sf.visible[edited.Id] = "giraffe hello after the edit"

	deleted := searchFuzzSend(ctx, f, h, conv, "secret deleted hello launch")
	resp2, err := h.DeleteMessage(ctx, apiserver.DeleteMessageRequestObject{ConversationId: conv, Seq: deleted.Seq})
	require.NoError(f, err)
	require.IsType(f, apiserver.DeleteMessage204Response{}, resp2)

	outsider := WithUserID(context.Background(), "outsider")
	searchFuzzSend(outsider, f, h, searchFuzzConversation(outsider, f, h), "private hello launch world")
	return sf
}

func searchFuzzConversation(ctx context.Context, tb testing.TB, h *Handlers) uuid.UUID {
	title := "search"
	resp, err := h.CreateConversation(ctx, apiserver.CreateConversationRequestObject{Body: &api.CreateConversationJSONRequestBody{
		Type: api.ConversationTypeGroup, Title: &title, MemberIds: []string{"bob"},
	}})
	require.NoError(tb, err)
	require.IsType(tb, apiserver.CreateConversation201JSONResponse{}, resp)
	return resp.(apiserver.CreateConversation201JSONResponse).Id
}

func searchFuzzSend(ctx context.Context, tb testing.TB, h *Handlers, conv uuid.UUID, body string) api.Message {
	resp, err := h.SendMessage(ctx, apiserver.SendMessageRequestObject{
		ConversationId: conv,
		Body:           &api.SendMessageJSONRequestBody{ClientMsgId: uuid.NewString(), Body: body},
	})
	require.NoError(tb, err)
	require.IsType(tb, apiserver.SendMessage201JSONResponse{}, resp)
	return api.Message(resp.(apiserver.SendMessage201JSONResponse))
}

// searchPageSize is small, so that most searches that find anything have a next page to follow.
const searchPageSize = 2

// searchOverHTTP searches for q over HTTP and checks the answer: a 400 problem (nil), or a page
// of hits (followed to its next page) that the caller may see.
func (sf searchFuzzer) searchOverHTTP(t *testing.T, q string) *api.SearchPage {
	t.Helper()
	target := "/v1/messages/search?limit=" + strconv.Itoa(searchPageSize) + "&q=" + url.QueryEscape(q)
	rec, r := sf.get(t, target)
	checkErrorContract(t, r, target, rec, q)
	if rec.Code != http.StatusOK {
		if rec.Code != http.StatusBadRequest {
			t.Fatalf("q %q: status %d: %s", q, rec.Code, rec.Body.String())
		}
		return nil
	}
	var page api.SearchPage
	if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil {
		t.Fatalf("q %q: %v: %s", q, err, rec.Body.String())
	}
	sf.checkHits(t, q, page)
	if page.NextCursor != nil {
		next := target + "&cursor=" + url.QueryEscape(*page.NextCursor)
		rec, r := sf.get(t, next)
		checkErrorContract(t, r, next, rec, q)
		var more api.SearchPage
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &more) != nil {
			t.Fatalf("q %q: next page: status %d: %s", q, rec.Code, rec.Body.String())
		}
		sf.checkHits(t, q, more)
		for _, id := range hitIDs(more) {
			if slices.Contains(hitIDs(page), id) {
				t.Fatalf("q %q: %s on both pages", q, id)
			}
		}
	}
	return &page
}

func (sf searchFuzzer) get(t *testing.T, target string) (*httptest.ResponseRecorder, *http.Request) {
	r := httptest.NewRequestWithContext(t.Context(), http.MethodGet, target, nil)
	r.Header.Set("Authorization", "Bearer "+sf.token)
	rec := httptest.NewRecorder()
	sf.handler.ServeHTTP(rec, r)
	return rec, r
}

// searchDirectly calls the handler with q and checks what it returns: a 400 problem (refused),
// or a page of hits the caller may see; never another error.
func (sf searchFuzzer) searchDirectly(t *testing.T, q string) (page api.SearchPage, refused bool) {
	t.Helper()
	limit := searchPageSize
	resp, err := sf.h.SearchMessages(WithUserID(t.Context(), searchFuzzUser), apiserver.SearchMessagesRequestObject{
		Params: api.SearchMessagesParams{Q: q, Limit: &limit},
	})
	if err != nil {
		var expected *problemError
		if !errors.As(err, &expected) || expected.status != http.StatusBadRequest || resp != nil {
			t.Fatalf("q %q: the handler answered %+v with an unexpected error: %v", q, resp, err)
		}
		return api.SearchPage{}, true
	}
	ok, isPage := resp.(apiserver.SearchMessages200JSONResponse)
	if !isPage {
		t.Fatalf("q %q: the handler answered %T %+v", q, resp, resp)
	}
	page = api.SearchPage(ok)
	sf.checkHits(t, q, page)
	return page, false
}

// checkHits checks that each hit is a message the caller may see, as it is now, and that its
// snippet is safe HTML: text escaped, with matches in balanced <mark> elements, and only words of
// the body. (That it keeps all of the passage's text is
// TestSearchSnippetEscapesTagsInsteadOfDroppingThem's concern.)
func (sf searchFuzzer) checkHits(t *testing.T, q string, page api.SearchPage) {
	t.Helper()
	if len(page.Items) > searchPageSize {
		t.Fatalf("q %q: %d hits on a page of %d", q, len(page.Items), searchPageSize)
	}
	for _, hit := range page.Items {
		body, ok := sf.visible[hit.Message.Id]
		if !ok {
			t.Fatalf("q %q found a message the caller may not find: %+v", q, hit.Message)
		}
		if hit.Message.Body != body || hit.Message.DeletedAt != nil {
			t.Fatalf("q %q: found %q, which is now %q", q, hit.Message.Body, body)
		}
		open, closed := strings.Count(hit.Snippet, "<mark>"), strings.Count(hit.Snippet, "</mark>")
		text := strings.NewReplacer("<mark>", "", "</mark>", "").Replace(hit.Snippet)
		if open != closed || strings.ContainsAny(text, "<>\x01\x02") {
			t.Fatalf("q %q: snippet %q of %q", q, hit.Snippet, body)
		}
		for _, word := range strings.Fields(html.UnescapeString(text)) {
			if !strings.Contains(body, word) {
				t.Fatalf("q %q: snippet %q has %q, which is not in %q", q, hit.Snippet, word, body)
			}
		}
	}
}

func hitIDs(page api.SearchPage) []uuid.UUID {
	ids := make([]uuid.UUID, len(page.Items))
	for i, hit := range page.Items {
		ids[i] = hit.Message.Id
	}
	return ids
}

// searchQuerySeeds are edges of web-search syntax (quotes balanced and not, negation, or, the
// operators of to_tsquery that websearch_to_tsquery must take as text, parentheses,
// backslashes), stopwords, stems, lengths at and over the limit, Unicode, controls and bytes
// that are not UTF-8.
func searchQuerySeeds() []string {
	return []string{
		"hello", "hello world", "launch plan", "running", "run", "giraffe", "zebra", "secret", "private", "needle",
		`"hello world"`, `"hello`, `hello"`, `"`, `""`, `"""`, `" "`, `"hello" "world"`, `"the launch"`,
		"-hello", "--hello", "- -", "-", "hello -world", "-the", `-"hello world"`,
		"or", "hello or world", "or or or", "hello or", "or hello", "-or", "OR", "hello OR -world",
		"a <-> b", "<->", "<2>", "hello <-> world", "hello:*", ":*", "hel:*", "hello:A", "hello:*AB",
		"&", "|", "!", "!!", "!hello", "hello & world", "hello | world", "hello & !world",
		"(hello)", "((", ")", "()", "(hello | world) & !foo", "((((((((((hello))))))))))",
		`\`, `\\`, `hello\`, `\"hello`, `'`, `''`, `'hello'`, `\'`, `hello'world`, `'; DROP TABLE messages; --`,
		"$$", "$1", ";", "%", "_", "*", "?", "@@", "::", ":", "to_tsvector('english', body)", "E'\\x01'",
		"the", "the and", "the or and", "a", "I", "1", "1.5e10", "-1", "0x1F",
		"https://example.com/a?b=c&d=e#f", "user@example.com", "/usr/bin", "C++", "c#", "a-b-c", "a_b", "a.b.c",
		"café", "cafe\u0301", "日本語", "Привет", "👍", "🇫🇷", "👨‍👩‍👧", "ﬁ", "İ", "ß", "\u202ehello", "\u200b", "\ufeffhello",
		"<script>", "&amp;", "<mark>", "hello\x01", "\x02", "\x01\x02",
		" ", "\t", "\n", "hello\nworld", "\r\n", "", "\x00", "a\x00b", "\xff", "\xc3\x28", "hello\xed\xa0\x80", "\xc0\xaf",
		strings.Repeat("a", 256), strings.Repeat("a", 257), strings.Repeat("a ", 128), strings.Repeat("é", 256),
		strings.Repeat("ab", 200), strings.Repeat(`"a" `, 64), strings.Repeat("-", 256), strings.Repeat("or ", 85),
		strings.Repeat("(", 256), strings.Repeat("!", 256), strings.Repeat(`\`, 256), strings.Repeat("👍", 256),
		strings.Repeat("hello ", 42), strings.Repeat("a", 10<<10),
	}
}

// A snippet is the matching passage of the body, its text escaped: text that looks like an HTML
// tag is text too, and is kept.
func TestSearchSnippetEscapesTagsInsteadOfDroppingThem(t *testing.T) {
	t.Parallel()
	b := setup(t)
	conv := b.createGroup(t, "alice", "bob")
	for _, tc := range []struct{ name, body string }{
		{"Comparisons", "5 > 3 & 2 < 4, hello"},
		{"Entities", "an &amp; entity &lt;b&gt; hello"},
		{"Element", "use the <div> element, hello"},
		{"LessAndGreater", "when a<b and c>d, hello"},
		{"AngleBrackets", "x <y> z hello"},
		{"Script", "<script>alert(1)</script> hello"},
		{"Comment", "see <!-- note --> hello"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := b.send(t, "alice", conv.Id, tc.body)
			resp, err := b.h.SearchMessages(as(t, "alice"), apiserver.SearchMessagesRequestObject{Params: api.SearchMessagesParams{Q: "hello", ConversationId: &conv.Id}})
			page := expect[apiserver.SearchMessages200JSONResponse](t, resp, err)
			i := slices.IndexFunc(page.Items, func(hit api.SearchHit) bool { return hit.Message.Id == m.Id })
			require.GreaterOrEqual(t, i, 0, "%q not found", tc.body)
			want := strings.Replace(html.EscapeString(tc.body), "hello", "<mark>hello</mark>", 1)
			require.Equal(t, want, page.Items[i].Snippet, "body %q", tc.body)
		})
	}
}
