package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"
)

// demoFiles stands in for the built demo page.
var demoFiles = fstest.MapFS{
	"index.html": {Data: []byte("<!doctype html><title>Parley demo chat</title>")},
	"app.js":     {Data: []byte("console.log('parley')")},
}

// On a development server the demo page is served at /demo/, and its token endpoint signs in as
// any valid user name with a token the API accepts.
func TestDemoPageSignsInAsAUserName(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, func(c *Config) { c.DemoFiles = demoFiles })

	page := httptest.NewRecorder()
	s.Handler().ServeHTTP(page, httptest.NewRequest(http.MethodGet, "/demo/", nil))
	require.Equal(t, http.StatusOK, page.Code)
	require.Contains(t, page.Body.String(), "Parley demo chat")

	script := httptest.NewRecorder()
	s.Handler().ServeHTTP(script, httptest.NewRequest(http.MethodGet, "/demo/app.js", nil))
	require.Equal(t, http.StatusOK, script.Code)
	require.Contains(t, script.Header().Get("Content-Type"), "javascript")

	bare := httptest.NewRecorder()
	s.Handler().ServeHTTP(bare, httptest.NewRequest(http.MethodGet, "/demo", nil))
	require.Equal(t, http.StatusMovedPermanently, bare.Code)
	require.Equal(t, "/demo/", bare.Header().Get("Location"))

	signIn := httptest.NewRecorder()
	s.Handler().ServeHTTP(signIn, httptest.NewRequest(http.MethodPost, "/demo/token", strings.NewReader(`{"user_id":"alice"}`)))
	require.Equal(t, http.StatusOK, signIn.Code)
	var answer struct{ Token string }
	require.NoError(t, json.Unmarshal(signIn.Body.Bytes(), &answer))

	me := httptest.NewRequest(http.MethodGet, "/v1/me", nil)
	me.Header.Set("Authorization", "Bearer "+answer.Token)
	meAnswer := httptest.NewRecorder()
	s.Handler().ServeHTTP(meAnswer, me)
	require.Equal(t, http.StatusOK, meAnswer.Code)
	require.JSONEq(t, `{"user_id":"alice"}`, meAnswer.Body.String())

	for _, body := range []string{`{"user_id":"a b"}`, `{"user_id":""}`, `not json`} {
		refused := httptest.NewRecorder()
		s.Handler().ServeHTTP(refused, httptest.NewRequest(http.MethodPost, "/demo/token", strings.NewReader(body)))
		require.Equal(t, http.StatusBadRequest, refused.Code, body)
		require.Equal(t, "application/problem+json", refused.Header().Get("Content-Type"), body)
	}
}

// A server that is not in development mode has no demo page and no way to sign in as anyone.
func TestNoDemoPageOutsideDevelopment(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	for _, req := range []*http.Request{
		httptest.NewRequest(http.MethodGet, "/demo/", nil),
		httptest.NewRequest(http.MethodPost, "/demo/token", strings.NewReader(`{"user_id":"alice"}`)),
	} {
		answer := httptest.NewRecorder()
		s.Handler().ServeHTTP(answer, req)
		require.Equal(t, http.StatusNotFound, answer.Code, req.URL.Path)
		require.NotContains(t, answer.Body.String(), "token")
	}
}
