package server

import (
	"context"
	"net/http"
	"strings"

	"github.com/parleyhq/parley/gen/apiserver"
)

// ConnectWebSocket answers a request to the WebSocket route that is not a WebSocket handshake;
// handshakes never reach it (Server.upgradeWebSocket hands them to the hub).
func (h *Handlers) ConnectWebSocket(context.Context, apiserver.ConnectWebSocketRequestObject) (apiserver.ConnectWebSocketResponseObject, error) {
	return nil, badRequest(
		"websocket_required", "This route is a WebSocket handshake (Upgrade: websocket, subprotocol parley.v1).")
}

// upgradeWebSocket hands authenticated, validated WebSocket handshakes for an operation that
// answers 101 to the hub, which hijacks the connection (a strict handler cannot). Any other
// request to the route goes on to ConnectWebSocket, which explains.
func (s *Server) upgradeWebSocket(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := IdentityFrom(r.Context())
		if op := operationFrom(r.Context()); op == nil || !op.upgrade || !ok || !isWebSocketHandshake(r) {
			next.ServeHTTP(w, r)
			return
		}
		s.hub.Serve(w, r, id.UserID, id.ExpiresAt)
	})
}

func isWebSocketHandshake(r *http.Request) bool {
	return r.Method == http.MethodGet && strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}
