package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/devtoken"
	"github.com/parleyhq/parley/gen/api"
)

// Hostile and malformed requests through the real router and middleware: each gets its 4xx as
// problem+json, never a 500.
func TestBadInputGetsProblemNeverServerError(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	alice := tokenFor(t, "alice")
	convPath := conversationWithOneMessage(t, s, alice)

	cases := slices.Concat(
		malformedBodies(alice, convPath),
		outOfBoundsValues(alice, convPath),
		wrongContentTypes(alice, convPath),
		badParameters(alice, convPath),
		badFieldValues(alice, convPath),
		badCredentials(t),
		unroutableRequests(alice),
	)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			requireProblem(t, tc, serveRequest(t, s, tc.method, tc.path, tc.contentType, tc.body, tc.token))
		})
	}
	t.Logf("bad inputs tried: %d", len(cases))

	// The conversation is untouched by all of that.
	list := serveRequest(t, s, "GET", convPath+"/messages", "", nil, alice)
	require.Equal(t, 200, list.Code)
	var page api.MessagePage
	require.NoError(t, json.Unmarshal(list.Body.Bytes(), &page))
	require.Equal(t, []string{"hello"}, bodies(page.Items), fmt.Sprint(page))
}

// badRequestCase is a request the server must refuse with status, and with code unless code is
// empty, in which case any code will do.
type badRequestCase struct {
	name        string
	method      string
	path        string
	contentType string
	body        []byte
	token       string
	status      int
	code        string
}

// serveRequest sends one request through the server's whole handler; a nil body sends none, an
// empty contentType or token sends no such header.
func serveRequest(t *testing.T, s *Server, method, path, contentType string, body []byte, token string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequestWithContext(t.Context(), method, path, bytes.NewReader(body))
	if body == nil {
		req = httptest.NewRequestWithContext(t.Context(), method, path, nil)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	return rec
}

// conversationWithOneMessage creates a group conversation in which the holder of token says
// "hello", and returns the conversation's path.
func conversationWithOneMessage(t *testing.T, s *Server, token string) string {
	t.Helper()
	created := serveRequest(t, s, "POST", "/v1/conversations", "application/json", []byte(`{"type":"group","title":"t","member_ids":["bob"]}`), token)
	require.Equal(t, http.StatusCreated, created.Code, created.Body.String())
	var conv api.Conversation
	require.NoError(t, json.Unmarshal(created.Body.Bytes(), &conv))
	convPath := "/v1/conversations/" + conv.Id.String()
	sent := serveRequest(t, s, "POST", convPath+"/messages", "application/json", []byte(`{"client_msg_id":"m1","body":"hello"}`), token)
	require.Equal(t, http.StatusCreated, sent.Code, sent.Body.String())
	return convPath
}

// requireProblem checks that rec is the problem+json tc expects, with nothing internal in it.
func requireProblem(t *testing.T, tc badRequestCase, rec *httptest.ResponseRecorder) {
	t.Helper()
	require.Equal(t, tc.status, rec.Code, rec.Body.String())
	mediaType, _, err := mime.ParseMediaType(rec.Header().Get("Content-Type"))
	require.NoError(t, err)
	require.Equal(t, "application/problem+json", mediaType)
	var p api.Problem
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p))
	require.Equal(t, tc.status, p.Status)
	require.NotEmpty(t, p.Title)
	require.NotEmpty(t, p.Type)
	if tc.code != "" {
		require.Equal(t, tc.code, p.Code)
	} else {
		require.NotEmpty(t, p.Code)
	}
	require.NotContains(t, strings.ToLower(rec.Body.String()), "sql", "no internals reach the client")
	if tc.status == 401 {
		require.Contains(t, rec.Header().Get("WWW-Authenticate"), "Bearer")
	}
}

// messageJSON is a request to send a message whose body is the given JSON value.
func messageJSON(body string) []byte {
	return []byte(`{"client_msg_id":"x","body":` + body + `}`)
}

// malformedBodies are bodies that are not JSON, or not of the shape the operation takes.
func malformedBodies(alice, convPath string) []badRequestCase {
	deep := strings.Repeat(`{"a":`, 10500) + "1" + strings.Repeat("}", 10500)
	deepArray := `{"type":"group","member_ids":` + strings.Repeat("[", 30000) + strings.Repeat("]", 30000) + "}"
	return []badRequestCase{
		{"MalformedJSON", "POST", "/v1/conversations", "application/json", []byte(`{"type":`), alice, 400, "invalid_json"},
		{"TrailingGarbage", "POST", convPath + "/messages", "application/json", []byte(`{"client_msg_id":"a","body":"b"} x`), alice, 400, "invalid_json"},
		{"DeeplyNestedObject", "POST", "/v1/conversations", "application/json", []byte(deep), alice, 400, "invalid_json"},
		{"DeeplyNestedArray", "POST", "/v1/conversations", "application/json", []byte(deepArray), alice, 400, "invalid_json"},
		{"WrongTypeArray", "POST", "/v1/conversations", "application/json", []byte(`{"type":"group","member_ids":"bob"}`), alice, 400, "invalid_request"},
		{"WrongTypeNumber", "POST", convPath + "/messages", "application/json", messageJSON(`5`), alice, 400, "invalid_request"},
		{"WrongEnum", "POST", "/v1/conversations", "application/json", []byte(`{"type":"channel","member_ids":[]}`), alice, 400, "invalid_request"},
		{"MissingFields", "POST", convPath + "/messages", "application/json", []byte(`{}`), alice, 400, "invalid_request"},
		{"UnknownField", "POST", convPath + "/messages", "application/json", []byte(`{"client_msg_id":"a","body":"b","admin":true}`), alice, 400, "invalid_request"},
		{"NullBody", "POST", convPath + "/messages", "application/json", []byte(`null`), alice, 400, ""},
		{"ArrayBody", "POST", convPath + "/messages", "application/json", []byte(`[]`), alice, 400, "invalid_request"},
		{"EmptyBody", "POST", convPath + "/messages", "application/json", nil, alice, 400, "invalid_request"},
	}
}

// outOfBoundsValues are bodies too large, not UTF-8, or with values outside their schema's limits.
func outOfBoundsValues(alice, convPath string) []badRequestCase {
	return []badRequestCase{
		{"TwoMiBBody", "POST", convPath + "/messages", "application/json", messageJSON(`"` + strings.Repeat("a", 2<<20) + `"`), alice, 413, "body_too_large"},
		{"InvalidUTF8", "POST", convPath + "/messages", "application/json", messageJSON("\"bad \xff\xfe bytes\""), alice, 400, "invalid_utf8"},
		{"OverlongUTF8", "POST", convPath + "/messages", "application/json", messageJSON("\"\xc0\xaf\""), alice, 400, "invalid_utf8"},
		{"NULCharacter", "POST", convPath + "/messages", "application/json", messageJSON(`"a\u0000b"`), alice, 400, "invalid_request"},
		{"Body4001Chars", "POST", convPath + "/messages", "application/json", messageJSON(`"` + strings.Repeat("é", 4001) + `"`), alice, 400, "invalid_request"},
		{"EmptyMessageBody", "POST", convPath + "/messages", "application/json", messageJSON(`""`), alice, 400, "invalid_request"},
		{"ClientMsgIDTooLong", "POST", convPath + "/messages", "application/json", []byte(`{"client_msg_id":"` + strings.Repeat("c", 65) + `","body":"b"}`), alice, 400, "invalid_request"},
		{"TitleTooLong", "PATCH", convPath, "application/json", []byte(`{"title":"` + strings.Repeat("t", 201) + `"}`), alice, 400, "invalid_request"},
		{"MemberIDBadChars", "POST", "/v1/conversations", "application/json", []byte(`{"type":"group","member_ids":["bob smith"]}`), alice, 400, "invalid_request"},
		{"MemberIDTooLong", "POST", "/v1/conversations", "application/json", []byte(`{"type":"group","member_ids":["` + strings.Repeat("u", 129) + `"]}`), alice, 400, "invalid_request"},
		{"TooManyMembers", "POST", "/v1/conversations", "application/json", []byte(`{"type":"group","member_ids":["` + strings.Join(numbered("u", 101), `","`) + `"]}`), alice, 400, "invalid_request"},
	}
}

// wrongContentTypes are good JSON bodies sent as something else, or as nothing in particular.
func wrongContentTypes(alice, convPath string) []badRequestCase {
	return []badRequestCase{
		{"WrongContentType", "POST", convPath + "/messages", "text/plain", []byte(`{"client_msg_id":"a","body":"b"}`), alice, 415, "unsupported_media_type"},
		{"FormContentType", "POST", convPath + "/messages", "application/x-www-form-urlencoded", []byte(`client_msg_id=a&body=b`), alice, 415, "unsupported_media_type"},
		{"NoContentType", "POST", convPath + "/messages", "", []byte(`{"client_msg_id":"a","body":"b"}`), alice, 415, "unsupported_media_type"},
	}
}

// badParameters are path and query parameters of the wrong type, out of range, or forged.
func badParameters(alice, convPath string) []badRequestCase {
	return []badRequestCase{
		{"BadUUID", "GET", "/v1/conversations/not-a-uuid", "", nil, alice, 400, ""},
		{"BadUUIDInMessages", "GET", "/v1/conversations/1234/messages", "", nil, alice, 400, ""},
		{"LimitZero", "GET", convPath + "/messages?limit=0", "", nil, alice, 400, "invalid_request"},
		{"LimitTooLarge", "GET", convPath + "/messages?limit=201", "", nil, alice, 400, "invalid_request"},
		{"LimitNegative", "GET", "/v1/conversations?limit=-1", "", nil, alice, 400, "invalid_request"},
		{"LimitNotNumber", "GET", convPath + "/events?limit=ten", "", nil, alice, 400, ""},
		{"AfterSeqNegative", "GET", convPath + "/events?after_seq=-5", "", nil, alice, 400, "invalid_request"},
		{"AfterSeqOverflow", "GET", convPath + "/messages?after_seq=99999999999999999999", "", nil, alice, 400, ""},
		{"BeforeSeqZero", "GET", convPath + "/messages?before_seq=0", "", nil, alice, 400, "invalid_request"},
		{"SeqPathZero", "PATCH", convPath + "/messages/0", "application/json", []byte(`{"body":"x"}`), alice, 400, ""},
		{"SeqPathNotNumber", "DELETE", convPath + "/messages/abc", "", nil, alice, 400, ""},
		{"UserIDPathBadChars", "DELETE", convPath + "/members/bob%20smith", "", nil, alice, 400, ""},
		{"CursorTooLong", "GET", "/v1/conversations?cursor=" + strings.Repeat("c", 201), "", nil, alice, 400, "invalid_request"},
		{"CursorForged", "GET", "/v1/conversations?cursor=Zm9v", "", nil, alice, 400, "invalid_cursor"},
	}
}

// badFieldValues are read positions and member roles the schema refuses.
func badFieldValues(alice, convPath string) []badRequestCase {
	return []badRequestCase{
		{"ReadSeqNegative", "PUT", convPath + "/read", "application/json", []byte(`{"seq":-1}`), alice, 400, "invalid_request"},
		{"ReadSeqString", "PUT", convPath + "/read", "application/json", []byte(`{"seq":"1"}`), alice, 400, "invalid_request"},
		{"ReadSeqFloat", "PUT", convPath + "/read", "application/json", []byte(`{"seq":1.5}`), alice, 400, ""},
		{"RoleOwnerNotAssignable", "POST", convPath + "/members", "application/json", []byte(`{"user_id":"carol","role":"owner"}`), alice, 400, "invalid_request"},
	}
}

// badCredentials are requests with no token, or one that is not a token, has expired, or was
// signed with another secret.
func badCredentials(t *testing.T) []badRequestCase {
	expired, err := devtoken.Issue([]byte(testSecret), "alice", "", "", -time.Hour)
	require.NoError(t, err)
	forged, err := devtoken.Issue([]byte("not-the-server-secret-not-the-server"), "alice", "", "", time.Hour)
	require.NoError(t, err)
	return []badRequestCase{
		{"NoToken", "GET", "/v1/me", "", nil, "", 401, "unauthorized"},
		{"GarbageToken", "GET", "/v1/me", "", nil, "not.a.jwt", 401, "invalid_token"},
		{"ExpiredToken", "GET", "/v1/me", "", nil, expired, 401, "token_expired"},
		{"OtherSecretToken", "GET", "/v1/me", "", nil, forged, 401, "invalid_token"},
	}
}

// unroutableRequests name no route, or a method the route does not have.
func unroutableRequests(alice string) []badRequestCase {
	return []badRequestCase{
		{"UnknownRoute", "GET", "/v1/nothing-here", "", nil, alice, 404, "not_found"},
		{"MethodNotAllowed", "PUT", "/v1/conversations", "application/json", []byte(`{}`), alice, 405, "method_not_allowed"},
	}
}

func TestValidationProblemNamesTheField(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	req := httptest.NewRequestWithContext(t.Context(), "POST", "/v1/conversations", strings.NewReader(`{"type":"group","member_ids":["ok","bad id"],"title":""}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tokenFor(t, "alice"))
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	require.Equal(t, 400, rec.Code)
	var p api.Problem
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p))
	require.NotNil(t, p.Errors)
	fields := map[string]bool{}
	for _, e := range *p.Errors {
		fields[e.Field] = true
		require.NotEmpty(t, e.Reason)
	}
	require.True(t, fields["member_ids.1"], "%v", *p.Errors)
	require.True(t, fields["title"], "%v", *p.Errors)

	metrics := httptest.NewRecorder()
	s.Handler().ServeHTTP(metrics, httptest.NewRequestWithContext(t.Context(), "GET", "/metrics", nil))
	require.Contains(t, metrics.Body.String(), `parley_http_requests_total{method="POST",route="/v1/conversations",status="400"} 1`,
		"requests refused before routing count under their route template")
}

// An empty body is one mistake, reported once, whether it comes with a JSON content type or none.
func TestEmptyBodyIsOneMistake(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	alice := tokenFor(t, "alice")
	convPath := conversationWithOneMessage(t, s, alice)
	for _, body := range [][]byte{nil, {}} {
		rec := serveRequest(t, s, "POST", convPath+"/messages", "application/json", body, alice)
		require.Equal(t, http.StatusBadRequest, rec.Code, rec.Body.String())
		var p api.Problem
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p))
		require.Equal(t, "invalid_request", p.Code)
		require.NotNil(t, p.Errors)
		require.Equal(t, []api.FieldError{{Field: "body", Reason: "a JSON body is required"}}, *p.Errors, rec.Body.String())
		require.Equal(t, "body: a JSON body is required", *p.Detail)
	}
}

// An empty string where text is required is one mistake with one reason, and a field whose schema
// is composed (allOf) gets the reason of the part it failed.
func TestOneReasonPerField(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	alice := tokenFor(t, "alice")
	convPath := conversationWithOneMessage(t, s, alice)
	for _, tc := range []struct {
		method, path, body string
		want               []api.FieldError
	}{
		{"POST", convPath + "/messages", `{"client_msg_id":"a","body":""}`, []api.FieldError{{Field: "body", Reason: "minimum string length is 1"}}},
		{"PATCH", convPath + "/messages/1", `{"body":""}`, []api.FieldError{{Field: "body", Reason: "minimum string length is 1"}}},
		{"POST", convPath + "/messages", `{"client_msg_id":"","body":""}`, []api.FieldError{
			{Field: "client_msg_id", Reason: "minimum string length is 1"}, {Field: "body", Reason: "minimum string length is 1"}}},
		{"POST", "/v1/conversations", `{"type":"group","title":"","member_ids":[]}`, []api.FieldError{{Field: "title", Reason: "minimum string length is 1"}}},
	} {
		rec := serveRequest(t, s, tc.method, tc.path, "application/json", []byte(tc.body), alice)
		require.Equal(t, http.StatusBadRequest, rec.Code, rec.Body.String())
		var p api.Problem
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p))
		require.NotNil(t, p.Errors)
		require.ElementsMatch(t, tc.want, *p.Errors, "%s %s", tc.body, rec.Body.String())
	}
}
