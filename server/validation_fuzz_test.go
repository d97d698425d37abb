package server

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzRequest sends arbitrary requests through the whole HTTP handler (auth, body guard, spec
// validation, routing, strict handlers, PostgreSQL) and checks the error contract: no 5xx for any
// input, every 4xx a problem+json naming its status and code, and no internals in any error.
func FuzzRequest(f *testing.F) {
	rf := newRequestFuzzer(f)
	routes, methods := fuzzedRoutes(), fuzzedMethods()
	for _, sd := range slices.Concat(meAndConversationsSeeds(), conversationSeeds(), messageSeeds(), otherRouteSeeds()) {
		f.Add(seedIndex(f, routes, sd.route), seedIndex(f, methods, sd.method), sd.ids, sd.param, sd.query, sd.ctype, []byte(sd.body), sd.badToken)
	}

	f.Fuzz(func(t *testing.T, route, method, ids uint8, param, query, ctype string, body []byte, badToken bool) {
		target := rf.target(routes[int(route)%len(routes)], ids, param, query)
		// Parse the request line as the server does: what it refuses never reaches the handler.
		r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(methods[int(method)%len(methods)] + " " + target + " HTTP/1.1\r\nHost: parley.test\r\n\r\n")))
		if err != nil {
			return
		}
		r = r.WithContext(t.Context())
		r.RemoteAddr = "192.0.2.1:40000"
		rf.setHeadersAndBody(r, param, ctype, body, badToken)

		rec := httptest.NewRecorder()
		rf.handler.ServeHTTP(rec, r)

		input := strings.Join([]string{param, query, ctype, string(body), unescapedQuery(param), unescapedQuery(query)}, "\x00")
		checkErrorContract(t, r, target, rec, input)
	})
}

// requestFuzzer is what every fuzzed request shares: the handler under test, and a user with a
// token and one real conversation with a message, so that requests naming it get past the
// membership checks into the deep code.
type requestFuzzer struct {
	handler     http.Handler
	user, token string
	conv        string
}

func newRequestFuzzer(f *testing.F) requestFuzzer {
	const user = "fuzzer"
	s := newTestServer(f, func(cfg *Config) { cfg.Limits = Limits{} }) // 429s would hide the paths fuzzed
	rf := requestFuzzer{handler: s.Handler(), user: user, token: tokenFor(f, user)}

	serve := func(method, target, body string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, target, strings.NewReader(body))
		r.Header.Set("Authorization", "Bearer "+rf.token)
		r.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		rf.handler.ServeHTTP(rec, r)
		return rec
	}
	rec := serve(http.MethodPost, "/v1/conversations", `{"type":"group","title":"fuzz","member_ids":["bob"]}`)
	require.Equal(f, http.StatusCreated, rec.Code, rec.Body.String())
	var conv struct{ ID string }
	require.NoError(f, json.Unmarshal(rec.Body.Bytes(), &conv))
	rec = serve(http.MethodPost, "/v1/conversations/"+conv.ID+"/messages", `{"client_msg_id":"seed","body":"hello"}`)
	require.Equal(f, http.StatusCreated, rec.Code, rec.Body.String())
	rf.conv = conv.ID
	return rf
}

// target fills the path parameters of route as ids says, from param or the real conversation,
// and appends query.
func (rf requestFuzzer) target(route string, ids uint8, param, query string) string {
	c, seq, u := rf.conv, "1", "bob"
	switch ids % idModes {
	case realConvFuzzedRest:
		seq, u = url.PathEscape(param), url.PathEscape(param)
	case allFuzzed:
		c, seq, u = url.PathEscape(param), url.PathEscape(param), url.PathEscape(param)
	case allRaw:
		c, seq, u = escapeRequestTarget(param, "?"), escapeRequestTarget(param, "?"), escapeRequestTarget(param, "?")
	}
	if p, err := url.PathUnescape(u); err == nil && p == rf.user && c == rf.conv {
		u = "bob" // leaving the real conversation would shut the rest of the run out of it
	}
	target := strings.NewReplacer("{c}", c, "{s}", seq, "{u}", u).Replace(route)
	if query != "" {
		target += "?" + escapeRequestTarget(query, "")
	}
	return target
}

// setHeadersAndBody authenticates r as the fuzzing user, or with param as the token when badToken
// is set, and sets the content type and body where the wire could carry them.
func (rf requestFuzzer) setHeadersAndBody(r *http.Request, param, ctype string, body []byte, badToken bool) {
	switch {
	case !badToken:
		r.Header.Set("Authorization", "Bearer "+rf.token)
	case param != "" && headerValueOnWire(param):
		r.Header.Set("Authorization", "Bearer "+param)
	}
	if ctype != "" && headerValueOnWire(ctype) {
		r.Header.Set("Content-Type", ctype)
	}
	if len(body) > 0 {
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
	}
}

// checkErrorContract checks the response to r: no 5xx, every 4xx a problem+json naming its status
// and code (and 401s a Bearer challenge), and no internals that input did not carry.
func checkErrorContract(t *testing.T, r *http.Request, target string, rec *httptest.ResponseRecorder, input string) {
	t.Helper()
	got := rec.Body.String()
	if rec.Code < 200 || rec.Code >= 500 {
		t.Fatalf("%s %s: status %d: %s", r.Method, target, rec.Code, got)
	}
	if rec.Code < 300 {
		return // success bodies carry what clients stored, which may be anything
	}
	if rec.Code >= 400 {
		mediaType, _, err := mime.ParseMediaType(rec.Header().Get("Content-Type"))
		if err != nil || mediaType != "application/problem+json" {
			t.Fatalf("%s %s: %d with content type %q: %s", r.Method, target, rec.Code, rec.Header().Get("Content-Type"), got)
		}
		var problem struct {
			Status int
			Code   string
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &problem); err != nil || problem.Status != rec.Code || problem.Code == "" {
			t.Fatalf("%s %s: %d with problem %s (%v)", r.Method, target, rec.Code, got, err)
		}
		if rec.Code == http.StatusUnauthorized && !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Bearer") {
			t.Fatalf("%s %s: 401 without WWW-Authenticate: Bearer", r.Method, target)
		}
	}
	for _, internal := range []string{"SQLSTATE", "pgx", "goroutine ", "panic", ".go:", "runtime error"} {
		if strings.Contains(got, internal) && !strings.Contains(input, internal) {
			t.Fatalf("%s %s: %d leaks %q: %s", r.Method, target, rec.Code, internal, got)
		}
	}
}

// fuzzedRoutes are every route of api/openapi.yaml, and two that are not.
func fuzzedRoutes() []string {
	return []string{
		"/v1/me",
		"/v1/conversations",
		"/v1/conversations/{c}",
		"/v1/conversations/{c}/members",
		"/v1/conversations/{c}/members/{u}",
		"/v1/conversations/{c}/messages",
		"/v1/conversations/{c}/messages/{s}",
		"/v1/conversations/{c}/read",
		"/v1/conversations/{c}/events",
		"/v1/ws",
		"/healthz",
		"/readyz",
		"/openapi.json",
		"/metrics",
		"/v1/conversations/{c}/{s}",
		"/",
	}
}

// fuzzedMethods are the methods a fuzzed request may have.
func fuzzedMethods() []string {
	return []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}
}

// seedIndex is the index of v in list, as a seed of FuzzRequest names a route or a method.
func seedIndex(tb testing.TB, list []string, v string) uint8 {
	tb.Helper()
	for i, x := range list {
		if x == v {
			return uint8(i)
		}
	}
	tb.Fatalf("no %s in the list", v)
	return 0
}

// How a fuzzed request fills the path parameters.
const (
	realConvFuzzedRest = iota // the real conversation; seq and user id from param
	allFuzzed                 // param, escaped, in every path parameter
	allReal                   // the real conversation, seq 1, member bob
	allRaw                    // param unescaped in every path parameter, so it may add segments
	idModes
)

// requestSeed is a seed of FuzzRequest, with its route and method by name.
type requestSeed struct {
	route, method       string
	ids                 uint8
	param, query, ctype string
	body                string
	badToken            bool
}

// jsonType is the content type of the seeds that send JSON as they should.
const jsonType = "application/json"

// meAndConversationsSeeds ask who the user is, list conversations, and create them with bodies
// and content types good and bad.
func meAndConversationsSeeds() []requestSeed {
	return []requestSeed{
		{route: "/v1/me", method: "GET"},
		{route: "/v1/me", method: "GET", badToken: true},
		{route: "/v1/me", method: "GET", badToken: true, param: "eyJhbGciOiJub25lIn0.e30."},
		{route: "/v1/me", method: "POST", ctype: jsonType, body: `{}`},
		{route: "/v1/conversations", method: "POST", ctype: jsonType, body: `{"type":"group","title":"t","member_ids":["bob","carol"]}`},
		{route: "/v1/conversations", method: "POST", ctype: jsonType, body: `{"type":"direct","member_ids":["bob"]}`},
		{route: "/v1/conversations", method: "POST", ctype: jsonType, body: `{"type":"direct","member_ids":["fuzzer"]}`},
		{route: "/v1/conversations", method: "POST", ctype: jsonType, body: `{"type":"direct","member_ids":["bob"],"title":"x"}`},
		{route: "/v1/conversations", method: "POST", ctype: jsonType, body: `{"type":"group","member_ids":["a b"]}`},
		{route: "/v1/conversations", method: "POST", ctype: jsonType, body: `{"type":"group","title":"\u0000","member_ids":[]}`},
		{route: "/v1/conversations", method: "POST", ctype: jsonType, body: `{"type":"channel","member_ids":[]}`},
		{route: "/v1/conversations", method: "POST", ctype: "text/plain", body: `{"type":"group","member_ids":[]}`},
		{route: "/v1/conversations", method: "POST", ctype: "application/json; charset=utf-16", body: `{}`},
		{route: "/v1/conversations", method: "POST", ctype: "application/json;;", body: `{}`},
		{route: "/v1/conversations", method: "POST", ctype: jsonType, body: "{\"type\":\"group\",\"title\":\"\xff\",\"member_ids\":[]}"},
		{route: "/v1/conversations", method: "POST", ctype: jsonType, body: `{"type":"group","member_ids":[]} {}`},
		{route: "/v1/conversations", method: "POST", ctype: jsonType, body: strings.Repeat("[", 20000)},
		{route: "/v1/conversations", method: "POST", ctype: jsonType, body: `{"type":"group","title":"` + strings.Repeat("x", 70<<10) + `","member_ids":[]}`},
		{route: "/v1/conversations", method: "POST", ctype: jsonType},
		{route: "/v1/conversations", method: "GET", query: "limit=2&cursor=abc"},
		{route: "/v1/conversations", method: "GET", query: "limit=0&limit=1"},
		{route: "/v1/conversations", method: "GET", query: "limit=99999999999999999999"},
		{route: "/v1/conversations", method: "GET", query: "cursor=%ff%00&limit=-1"},
	}
}

// conversationSeeds read, rename and delete a conversation, real or not, and manage its members.
func conversationSeeds() []requestSeed {
	return []requestSeed{
		{route: "/v1/conversations/{c}", method: "GET", ids: allReal},
		{route: "/v1/conversations/{c}", method: "GET", ids: allFuzzed, param: "not-a-uuid"},
		{route: "/v1/conversations/{c}", method: "GET", ids: allFuzzed, param: "00000000-0000-0000-0000-000000000000"},
		{route: "/v1/conversations/{c}", method: "GET", ids: allFuzzed, param: "urn:uuid:0f8fad5b-d9cb-469f-a165-70867728950e"},
		{route: "/v1/conversations/{c}", method: "GET", ids: allRaw, param: "../me"},
		{route: "/v1/conversations/{c}", method: "GET", ids: allRaw, param: "%00"},
		{route: "/v1/conversations/{c}", method: "PATCH", ids: allReal, ctype: jsonType, body: `{"title":"renamed"}`},
		{route: "/v1/conversations/{c}", method: "PATCH", ids: allReal, ctype: jsonType, body: `{"title":""}`},
		{route: "/v1/conversations/{c}", method: "DELETE", ids: allReal},
		{route: "/v1/conversations/{c}/members", method: "GET", ids: allReal},
		{route: "/v1/conversations/{c}/members", method: "POST", ids: allReal, ctype: jsonType, body: `{"user_id":"carol","role":"admin"}`},
		{route: "/v1/conversations/{c}/members", method: "POST", ids: allReal, ctype: jsonType, body: `{"user_id":"bob","role":"owner"}`},
		{route: "/v1/conversations/{c}/members/{u}", method: "DELETE", ids: allReal},
		{route: "/v1/conversations/{c}/members/{u}", method: "DELETE", ids: realConvFuzzedRest, param: "nobody"},
		{route: "/v1/conversations/{c}/members/{u}", method: "DELETE", ids: realConvFuzzedRest, param: "a/b"},
		{route: "/v1/conversations/{c}/members/{u}", method: "DELETE", ids: realConvFuzzedRest, param: strings.Repeat("u", 129)},
	}
}

// messageSeeds send, list, edit and delete messages, mark them read and list the events.
func messageSeeds() []requestSeed {
	return []requestSeed{
		{route: "/v1/conversations/{c}/messages", method: "POST", ids: allReal, ctype: jsonType, body: `{"client_msg_id":"m1","body":"hi"}`},
		{route: "/v1/conversations/{c}/messages", method: "POST", ids: allReal, ctype: jsonType, body: `{"client_msg_id":"","body":""}`},
		{route: "/v1/conversations/{c}/messages", method: "POST", ids: allReal, ctype: jsonType, body: `{"client_msg_id":"m2","body":"` + strings.Repeat("é", 4001) + `"}`},
		{route: "/v1/conversations/{c}/messages", method: "POST", ids: allReal, ctype: jsonType, body: `{"client_msg_id":"m3","body":"\ud800"}`},
		{route: "/v1/conversations/{c}/messages", method: "GET", ids: allReal, query: "after_seq=0&limit=200"},
		{route: "/v1/conversations/{c}/messages", method: "GET", ids: allReal, query: "before_seq=-1&limit=0"},
		{route: "/v1/conversations/{c}/messages", method: "GET", ids: allReal, query: "after_seq=1&before_seq=2"},
		{route: "/v1/conversations/{c}/messages", method: "GET", ids: allReal, query: "after_seq=9223372036854775807&limit=1e3"},
		{route: "/v1/conversations/{c}/messages/{s}", method: "PATCH", ids: allReal, ctype: jsonType, body: `{"body":"edited"}`},
		{route: "/v1/conversations/{c}/messages/{s}", method: "PATCH", ids: realConvFuzzedRest, param: "99999999999999999999", ctype: jsonType, body: `{"body":"x"}`},
		{route: "/v1/conversations/{c}/messages/{s}", method: "DELETE", ids: realConvFuzzedRest, param: "-1"},
		{route: "/v1/conversations/{c}/messages/{s}", method: "DELETE", ids: realConvFuzzedRest, param: "0x10"},
		{route: "/v1/conversations/{c}/messages/{s}", method: "DELETE", ids: allReal},
		{route: "/v1/conversations/{c}/read", method: "PUT", ids: allReal, ctype: jsonType, body: `{"seq":1}`},
		{route: "/v1/conversations/{c}/read", method: "PUT", ids: allReal, ctype: jsonType, body: `{"seq":-1}`},
		{route: "/v1/conversations/{c}/read", method: "PUT", ids: allReal, ctype: jsonType, body: `{"seq":9223372036854775807}`},
		{route: "/v1/conversations/{c}/read", method: "PUT", ids: allReal, ctype: jsonType, body: `{"seq":1.5}`},
		{route: "/v1/conversations/{c}/events", method: "GET", ids: allReal, query: "after_seq=0&limit=1"},
		{route: "/v1/conversations/{c}/events", method: "GET", ids: allReal, query: "after_seq=9223372036854775807"},
	}
}

// otherRouteSeeds open the WebSocket, ask operators' routes, and routes that do not exist.
func otherRouteSeeds() []requestSeed {
	return []requestSeed{
		{route: "/v1/ws", method: "GET"},
		{route: "/v1/ws", method: "GET", badToken: true, query: "access_token=garbage"},
		{route: "/v1/ws", method: "POST", ctype: jsonType, body: `{}`},
		{route: "/healthz", method: "GET"},
		{route: "/readyz", method: "GET"},
		{route: "/openapi.json", method: "GET"},
		{route: "/metrics", method: "GET"},
		{route: "/metrics", method: "HEAD", badToken: true},
		{route: "/v1/conversations/{c}/{s}", method: "OPTIONS", ids: realConvFuzzedRest, param: "x"},
		{route: "/", method: "GET"},
	}
}

// escapeRequestTarget percent-encodes the bytes a request line cannot carry, and those in extra,
// leaving the rest (including '/', '%' and '&') for the server to interpret.
func escapeRequestTarget(s, extra string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c == 0x7f || c >= 0x80 || c == '#' || strings.IndexByte(extra, c) >= 0 {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// headerValueOnWire is what net/http accepts in a header value on the wire.
func headerValueOnWire(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

func unescapedQuery(s string) string {
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}
