package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/gen/api"
)

// answer renders what a handler returned, a response object or an error, the way the server would.
func answer(t *testing.T, resp any, err error) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	if err != nil {
		require.Nil(t, resp, "a handler returns a response or an error, never both (oapi-codegen#1790)")
		req := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/", nil)
		responseErrorHandler(discardLogger())(rec, req, err)
		return rec
	}
	v := reflect.ValueOf(resp)
	for i := range v.NumMethod() {
		if name := v.Type().Method(i).Name; strings.HasPrefix(name, "Visit") {
			out := v.Method(i).Call([]reflect.Value{reflect.ValueOf(http.ResponseWriter(rec))})
			require.Nil(t, out[0].Interface())
			return rec
		}
	}
	t.Fatalf("%T is not a response object", resp)
	return nil
}

// statusOf is the status the client gets for what a handler returned.
func statusOf(t *testing.T, resp any, err error) int {
	t.Helper()
	return answer(t, resp, err).Code
}

// expectProblem asserts that a handler refused with an expected failure of status, answered as
// problem+json, and returns the problem the client reads.
func expectProblem(t *testing.T, resp any, err error, status int) api.Problem {
	t.Helper()
	var expected *problemError
	require.ErrorAs(t, err, &expected, "want an expected failure, got %+v", resp)
	rec := answer(t, resp, err)
	require.Equal(t, status, rec.Code, rec.Body.String())
	require.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"))
	var p api.Problem
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p))
	require.Equal(t, status, p.Status)
	return p
}
