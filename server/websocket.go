package server

import (
	"context"

	"github.com/parleyhq/parley/gen/api"
)

// webSocketPath is the live connection route; realtime.Hub serves its handshakes.
const webSocketPath = "/v1/ws"

// ConnectWebSocket answers a request to the WebSocket route that is not a WebSocket handshake;
// handshakes never reach it (Server.upgradeWebSocket hands them to the hub).
func (h *Handlers) ConnectWebSocket(context.Context, api.ConnectWebSocketRequestObject) (api.ConnectWebSocketResponseObject, error) {
	return api.ConnectWebSocket400ApplicationProblemPlusJSONResponse{BadRequestApplicationProblemPlusJSONResponse: badRequestBody(
		"websocket_required", "This route is a WebSocket handshake (Upgrade: websocket, subprotocol parley.v1).")}, nil
}
