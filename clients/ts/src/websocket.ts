// The part of the WebSocket API a ParleySocket uses: the browser's WebSocket has it, and so has
// the `ws` package's, which Node needs (Node 20 has no global WebSocket).

/* eslint-disable @typescript-eslint/no-explicit-any -- handlers take `any` so that both the DOM's
   and ws's event types fit. */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((event: any) => void) | null;
  onmessage: ((event: any) => void) | null;
  onclose: ((event: any) => void) | null;
  onerror: ((event: any) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

/** The subprotocol ParleySocket offers. */
export const subprotocol = "parley.v1";

/** WebSocket.OPEN, which the constructor type above does not promise as a static. */
export const OPEN = 1;

/**
 * handshakeStatus reads the HTTP status of a refused handshake from an error event, where the
 * WebSocket says it: ws does ("Unexpected server response: 429"); browsers never do.
 */
export function handshakeStatus(event: unknown): number | undefined {
  const e = event as { message?: unknown; error?: { message?: unknown } } | null;
  for (const text of [e?.message, e?.error?.message]) {
    if (typeof text === "string") {
      const m = /Unexpected server response: (\d{3})/.exec(text);
      if (m) {
        return Number(m[1]);
      }
    }
  }
  return undefined;
}

/** socketURL is the parley.v1 endpoint for an http(s) base URL, with the token as access_token. */
export function socketURL(baseUrl: string, token: string): string {
  const url = new URL(baseUrl.replace(/\/+$/, "") + "/v1/ws");
  if (url.protocol === "http:") {
    url.protocol = "ws:";
  } else if (url.protocol === "https:") {
    url.protocol = "wss:";
  }
  url.searchParams.set("access_token", token);
  return url.toString();
}
