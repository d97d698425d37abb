package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	apispec "github.com/parleyhq/parley/api"
)

// GET /openapi.json is api/openapi.yaml itself: the same operation ids, examples and everything
// else, so a client generated from the served document is the one generated from the file.
func TestSpecServedDocumentIsTheFile(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/openapi.json", nil))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var served any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &served))

	file, err := os.ReadFile("../api/openapi.yaml")
	require.NoError(t, err)
	var tree any
	require.NoError(t, yaml.Unmarshal(file, &tree))
	asJSON, err := json.Marshal(tree)
	require.NoError(t, err)
	var want any
	require.NoError(t, json.Unmarshal(asJSON, &want))

	require.Equal(t, want, served)
	require.Contains(t, rec.Body.String(), `"operationId":"getHealth"`)
}

// Every operation of the spec has an auth decision and a rate class, and every status the
// middleware can answer for it is declared: 431 and 500 everywhere, 401 where a token is needed,
// 429 where a limit applies, 400, 413 and 415 where a body is read, 400 where parameters are.
func TestSpecEveryOperationHasItsDecisionsAndStatuses(t *testing.T) {
	t.Parallel()
	doc, err := apispec.Load()
	require.NoError(t, err)
	router, err := newOperationRouter(doc)
	require.NoError(t, err)

	count := 0
	for path, item := range doc.Paths.Map() {
		for method, spec := range item.Operations() {
			count++
			op := router.byID[spec.OperationID]
			require.NotNil(t, op, "%s %s", method, path)
			where := method + " " + path
			require.Equal(t, strings.HasPrefix(path, "/v1/"), op.bearer, "%s: every /v1 operation needs a token, no other does", where)
			require.Contains(t, []rateClass{rateNone, rateSends, rateWrites, rateHandshakes}, op.rate, where)
			if method != http.MethodGet {
				require.Contains(t, []rateClass{rateSends, rateWrites}, op.rate, "%s: a write is rate limited", where)
			}

			want := []int{http.StatusRequestHeaderFieldsTooLarge, http.StatusInternalServerError}
			if op.bearer {
				want = append(want, http.StatusUnauthorized)
			}
			if op.rate != rateNone {
				want = append(want, http.StatusTooManyRequests)
			}
			if op.hasBody {
				want = append(want, http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType)
			}
			if len(spec.Parameters) > 0 || len(item.Parameters) > 0 {
				want = append(want, http.StatusBadRequest)
			}
			for _, status := range want {
				require.NotNil(t, spec.Responses.Status(status), "%s does not declare %d", where, status)
			}
		}
	}
	require.Len(t, router.byID, count, "operation ids are unique")

	ws := router.byID["connectWebSocket"]
	require.True(t, ws.upgrade)
	require.Equal(t, "access_token", ws.tokenParam, "browsers pass the token in the query")
	require.Equal(t, rateSends, router.byID["sendMessage"].rate)
}

// A rate class or security scheme the server does not know stops the start, and so does an
// operation without a rate class: no operation is served without its decisions.
func TestSpecUnknownDecisionsAreRefusedAtStart(t *testing.T) {
	t.Parallel()
	cases := map[string]func(doc *openapi3.T){
		"UnknownRate": func(doc *openapi3.T) {
			doc.Paths.Find("/v1/me").Get.Extensions[rateExtension] = "sometimes"
		},
		"MissingRate": func(doc *openapi3.T) {
			delete(doc.Paths.Find("/v1/me").Get.Extensions, rateExtension)
		},
		"UnknownScheme": func(doc *openapi3.T) {
			doc.Components.SecuritySchemes["bearerAuth"].Value = openapi3.NewOIDCSecurityScheme("https://issuer.example")
		},
		"OptionalToken": func(doc *openapi3.T) {
			doc.Paths.Find("/v1/me").Get.Security = &openapi3.SecurityRequirements{{}, {"bearerAuth": {}}}
		},
	}
	for name, change := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			doc, err := apispec.Load()
			require.NoError(t, err)
			change(doc)
			_, err = newOperationRouter(doc)
			require.Error(t, err)
		})
	}
}

// The decisions follow the operation, not its path: a renamed path keeps its rate limit.
func TestSpecRenamedPathKeepsItsDecisions(t *testing.T) {
	t.Parallel()
	doc, err := apispec.Load()
	require.NoError(t, err)
	const from, to = "/v1/conversations/{conversation_id}/messages", "/v1/conversations/{conversation_id}/posts"
	doc.Paths.Set(to, doc.Paths.Value(from))
	doc.Paths.Delete(from)
	router, err := newOperationRouter(doc)
	require.NoError(t, err)

	var got *operation
	handler := router.resolve(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got = operationFrom(r.Context()) }))
	req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/v1/conversations/0f8fad5b-d9cb-469f-a165-70867728950e/posts", nil)
	handler.ServeHTTP(httptest.NewRecorder(), req)
	require.NotNil(t, got)
	require.Equal(t, "sendMessage", got.id)
	require.Equal(t, rateSends, got.rate)
	require.True(t, got.bearer)
}

// Requests for no operation keep their problem+json answers, and the metrics count them under
// "unmatched" rather than under a raw path.
func TestSpecUnmatchedRequestsAreRefused(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	for _, tc := range []struct {
		method, path string
		status       int
		code         string
	}{
		{http.MethodGet, "/v1/nothing-here", http.StatusNotFound, "not_found"},
		{http.MethodGet, "/nowhere", http.StatusNotFound, "not_found"},
		{http.MethodDelete, "/healthz", http.StatusMethodNotAllowed, "method_not_allowed"},
	} {
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), tc.method, tc.path, nil))
		require.Equal(t, tc.status, rec.Code, "%s %s", tc.method, tc.path)
		require.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"))
		require.Contains(t, rec.Body.String(), `"code":"`+tc.code+`"`)
	}
	metrics := httptest.NewRecorder()
	s.Handler().ServeHTTP(metrics, httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/metrics", nil))
	require.Contains(t, metrics.Body.String(), `parley_http_requests_total{method="GET",route="unmatched",status="`+strconv.Itoa(http.StatusNotFound)+`"} 2`)
	require.NotContains(t, metrics.Body.String(), "nothing-here")
}
