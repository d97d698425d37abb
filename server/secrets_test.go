package server

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/db/dbtest"
)

// Tokens and the secret never reach the logs, even at debug level and even when a token is
// refused or comes in the query string of a WebSocket handshake.
func TestNoSecretOrTokenIsLogged(t *testing.T) {
	t.Parallel()
	logs := &lockedBuffer{}
	cfg := testConfig(dbtest.NewDatabase(t))
	s, err := New(context.Background(), cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	require.NoError(t, err)
	t.Cleanup(s.Close)
	base := serveTest(t, s)

	valid := tokenFor(t, "alice")
	expiredClaims := claimsFor("alice")
	expiredClaims.ExpiresAt = jwt.NewNumericDate(time.Now().Add(-time.Hour))
	expired := sign(t, jwt.SigningMethodHS256, []byte(testSecret), "", expiredClaims)
	forged := sign(t, jwt.SigningMethodHS256, []byte("another-secret-another-secret-another"), "", claimsFor("alice"))
	unsigned := sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", claimsFor("alice"))
	tokens := map[string]string{"valid": valid, "expired": expired, "forged": forged, "unsigned": unsigned}

	for _, token := range tokens {
		req, err := http.NewRequest(http.MethodGet, base+"/v1/me", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()

		ws, _, err := websocket.Dial(t.Context(), "ws"+strings.TrimPrefix(base, "http")+"/v1/ws?access_token="+url.QueryEscape(token), nil)
		if err == nil {
			ws.CloseNow()
		}
	}
	require.Equal(t, 1.0, metricValue(t, s, "parley_http_requests_total", "200"), "only the valid token got through")

	logged := logs.String()
	require.NotEmpty(t, logged, "the refusals were logged")
	require.NotContains(t, logged, testSecret)
	for name, token := range tokens {
		signature := token[strings.LastIndex(token, ".")+1:]
		payload := strings.Split(token, ".")[1]
		require.NotContains(t, logged, payload, "%s token logged", name)
		if signature != "" {
			require.NotContains(t, logged, signature, "%s token's signature logged", name)
		}
	}
}
