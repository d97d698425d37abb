import assert from "node:assert/strict";
import { after, describe, it } from "node:test";

import { ParleySocket, type SocketState, type WebSocketConstructor, type WebSocketLike } from "@parley/client";
import WebSocket from "ws";

import { FakeServer } from "./support/fakeserver.js";
import { waitFor } from "./support/wait.js";

// Both the browser's WebSocket and the ws package's fit the WebSocket option (checked by tsc).
const browserFits: WebSocketConstructor | undefined = (globalThis as { WebSocket?: typeof globalThis.WebSocket }).WebSocket;
const wsFits: WebSocketConstructor = WebSocket;
void [browserFits, wsFits];

const conv = "0f8fad5b-d9cb-469f-a165-70867728950e";
const fast = { initialMs: 10, maxMs: 40, rateLimitedMinMs: 400 };

const sockets: ParleySocket[] = [];
const servers: FakeServer[] = [];
after(async () => {
  for (const s of sockets) {
    s.close();
  }
  await Promise.all(servers.map((s) => s.close()));
});

async function setup(options: Parameters<typeof FakeServer.start>[0] = {}, token: string | (() => string) = "t1") {
  const server = await FakeServer.start(options);
  servers.push(server);
  const socket = new ParleySocket({ baseUrl: server.baseUrl, token, WebSocket, backoff: fast });
  sockets.push(socket);
  const states: SocketState[] = [];
  socket.on("state", (s) => states.push(s));
  return { server, socket, states };
}

describe("ParleySocket (scripted server)", () => {
  it("offers parley.v1, sends the token as access_token and resumes first with its cursors", async () => {
    const { server, socket, states } = await setup();
    socket.track(conv, 41);
    socket.subscribePresence(["bob"]);
    socket.connect();
    await waitFor("two frames", () => (server.connections[0]?.frames.length ?? 0) >= 2);
    const c = server.connections[0]!;
    assert.equal(c.protocol, "parley.v1");
    assert.equal(c.url.pathname, "/v1/ws");
    assert.equal(c.url.searchParams.get("access_token"), "t1");
    assert.deepEqual(c.frames[0], { type: "resume", cursors: { [conv]: 41 } });
    assert.deepEqual(c.frames[1], { type: "presence.subscribe", user_ids: ["bob"] });
    assert.deepEqual(states, ["connecting", "open"]);
  });

  it("reconnects after the server closes, and sends the presence set again", async () => {
    const { server, socket } = await setup();
    socket.subscribePresence(["bob", "carol"]);
    socket.connect();
    await waitFor("first connection", () => server.connections.length === 1 && socket.state === "open");
    server.connections[0]!.ws.close(1001, "server shutting down");
    await waitFor("second connection", () => (server.connections[1]?.frames.length ?? 0) >= 2);
    assert.deepEqual(server.connections[1]!.frames[1], { type: "presence.subscribe", user_ids: ["bob", "carol"] });
  });

  it("hands on events once each, and a handler that throws harms no other", async () => {
    const event = (seq: number) => JSON.stringify({ type: "event", event: { conversation_id: conv, seq, type: "message.created", actor_id: "bob", created_at: "2026-12-02T10:00:00Z" } });
    const { socket } = await setup({
      onConnection: (c) => {
        c.ws.send(JSON.stringify({ type: "ready", session_id: "s", user_id: "alice", heartbeat_ms: 25_000 }));
        for (const seq of [1, 2, 2, 1, 3]) {
          c.ws.send(event(seq));
        }
        c.ws.send("not json");
        return false;
      },
    });
    const seen: number[] = [];
    const errors: unknown[] = [];
    socket.on("event", () => {
      throw new Error("a broken handler");
    });
    socket.on("event", (e) => seen.push(e.seq));
    socket.on("clientError", (err) => errors.push(err));
    socket.connect();
    await waitFor("three events and four errors", () => seen.length === 3 && errors.length === 4);
    assert.deepEqual(seen, [1, 2, 3]);
    assert.deepEqual(socket.cursors(), { [conv]: 3 });
    assert.match(String(errors.at(-1)), /unreadable frame/);
  });

  it("measures ping round trips with application pings", async () => {
    const { server, socket } = await setup({
      onConnection: (c) => {
        c.ws.on("message", (data) => {
          const f = JSON.parse(data.toString()) as { type: string; id?: string };
          if (f.type === "ping") {
            c.ws.send(JSON.stringify({ type: "pong", id: f.id }));
          }
        });
      },
    });
    socket.connect();
    await waitFor("open", () => socket.state === "open");
    const rtt = await socket.ping();
    assert.ok(rtt >= 0 && rtt < 1_000, `rtt ${rtt}`);
    assert.equal(server.connections[0]!.frames.at(-1)?.type, "ping");
  });

  it("after 4401 stops until setToken, then reconnects with the new token", async () => {
    const { server, socket, states } = await setup();
    socket.connect();
    await waitFor("open", () => socket.state === "open");
    server.connections[0]!.ws.close(4401, "token expired");
    await waitFor("unauthorized", () => socket.state === "unauthorized");
    // Many backoff periods later it has still not tried again.
    await new Promise((resolve) => setTimeout(resolve, 20 * fast.maxMs));
    assert.equal(server.connections.length, 1);
    socket.setToken(() => "t2");
    await waitFor("reconnected", () => server.connections.length === 2 && socket.state === "open");
    assert.equal(server.connections[1]!.url.searchParams.get("access_token"), "t2");
    assert.deepEqual(states, ["connecting", "open", "unauthorized", "reconnecting", "open"]);
  });

  it("treats a handshake refused with 401 like 4401", async () => {
    let refuse = true;
    const { server, socket } = await setup({ refuse: () => (refuse ? 401 : undefined) });
    socket.connect();
    await waitFor("unauthorized", () => socket.state === "unauthorized");
    assert.equal(server.refusals.length, 1);
    refuse = false;
    socket.setToken("t2");
    await waitFor("open", () => socket.state === "open");
  });

  it("in a browser, which hides why a handshake failed, asks GET /v1/me and stops on 401", async () => {
    let refuse = true;
    const server = await FakeServer.start({ refuse: () => (refuse ? 401 : undefined), meStatus: () => (refuse ? 401 : 200) });
    servers.push(server);
    // Like a browser's WebSocket: an error event that says nothing.
    class BrowserLikeWebSocket implements WebSocketLike {
      private readonly ws: WebSocket;
      onopen: ((e: unknown) => void) | null = null;
      onmessage: ((e: unknown) => void) | null = null;
      onclose: ((e: unknown) => void) | null = null;
      onerror: ((e: unknown) => void) | null = null;
      constructor(url: string, protocols?: string | string[]) {
        this.ws = new WebSocket(url, protocols);
        this.ws.onopen = (e) => this.onopen?.(e);
        this.ws.onmessage = (e) => this.onmessage?.(e);
        this.ws.onclose = (e) => this.onclose?.(e);
        this.ws.onerror = () => this.onerror?.({ type: "error" });
      }
      get readyState() {
        return this.ws.readyState;
      }
      send(data: string) {
        this.ws.send(data);
      }
      close(code?: number, reason?: string) {
        this.ws.close(code, reason);
      }
    }
    const socket = new ParleySocket({ baseUrl: server.baseUrl, token: "old", WebSocket: BrowserLikeWebSocket, backoff: fast });
    sockets.push(socket);
    socket.connect();
    await waitFor("unauthorized", () => socket.state === "unauthorized");
    assert.deepEqual(server.meRequests, ["Bearer old"]);
    refuse = false;
    socket.setToken("new");
    await waitFor("open", () => socket.state === "open");
  });

  it("waits at least rateLimitedMinMs after a 4429 close", async () => {
    const { server, socket } = await setup({
      onConnection: (c) => {
        if (server.connections.length === 1) {
          c.ws.close(4429, "too many connections for this user");
          return false;
        }
      },
    });
    socket.connect();
    await waitFor("second connection", () => server.connections.length === 2, 5_000);
    const waited = server.connections[1]!.openedAt - server.connections[0]!.openedAt;
    assert.ok(waited >= fast.rateLimitedMinMs, `reconnected after ${waited} ms`);
  });

  it("waits at least rateLimitedMinMs after a handshake refused with 429", async () => {
    const { server, socket } = await setup({ refuse: () => (server.refusals.length === 0 ? 429 : undefined) });
    socket.connect();
    await waitFor("connection", () => server.connections.length === 1, 5_000);
    const waited = server.connections[0]!.openedAt - server.refusals[0]!.at;
    assert.ok(waited >= fast.rateLimitedMinMs, `reconnected after ${waited} ms`);
  });

  it("backs off between failed handshakes, growing to maxMs", async () => {
    const { server, socket } = await setup({ refuse: () => 503 });
    socket.connect();
    await waitFor("six refusals", () => server.refusals.length >= 6, 5_000);
    socket.close();
    const gaps = server.refusals.slice(1).map((r, i) => r.at - server.refusals[i]!.at);
    // Equal jitter: each wait is at least half its base, and the base never passes maxMs.
    const bases = [10, 20, 40, 40, 40];
    gaps.slice(0, 5).forEach((gap, i) => assert.ok(gap >= bases[i]! / 2 - 2, `gap ${i} of ${gap} ms under base ${bases[i]}`));
    // (The cap itself is reconnectDelay's unit test; here only: it keeps trying, promptly.)
    assert.ok(gaps.every((g) => g < 1_000), `gaps ${gaps}`);
  });

  it("drops a connection that goes silent for twice heartbeat_ms and reconnects", async () => {
    const { server, socket } = await setup({ heartbeatMs: 100 });
    const closes: number[] = [];
    socket.on("close", (info) => closes.push(info.code));
    socket.connect();
    await waitFor("open", () => socket.state === "open");
    // The scripted server answers no ping: the connection looks dead.
    await waitFor("second connection", () => server.connections.length === 2, 2_000);
    assert.deepEqual(closes, [4000]);
    assert.ok(server.connections[0]!.frames.some((f) => f.type === "ping"), "a heartbeat ping was sent before giving up");
  });

  it("gives up on a handshake that never gets ready", async () => {
    // The first connection is accepted but never told ready.
    const server: FakeServer = await FakeServer.start({ onConnection: () => (server.connections.length > 1 ? undefined : false) });
    servers.push(server);
    const socket = new ParleySocket({ baseUrl: server.baseUrl, token: "t", WebSocket, backoff: fast, connectTimeoutMs: 200 });
    sockets.push(socket);
    socket.connect();
    await waitFor("ready on the second connection", () => socket.state === "open", 3_000);
    assert.equal(server.connections.length, 2);
  });

  it("close stops for good", async () => {
    const { server, socket, states } = await setup();
    socket.connect();
    await waitFor("open", () => socket.state === "open");
    socket.close();
    await waitFor("server saw the close", () => server.connections[0]!.ws.readyState === WebSocket.CLOSED);
    assert.equal(socket.state, "closed");
    assert.throws(() => socket.connect(), /closed for good/);
    await assert.rejects(socket.ping(), /not open/);
    assert.deepEqual(states, ["connecting", "open", "closed"]);
  });
});
