import { createParleyClient, ParleyError, type ParleyClient } from "./client.js";
import { reconnectDelay, resolveBackoff, type BackoffOptions } from "./backoff.js";
import { MemoryCursorStore, type CursorStore } from "./cursors.js";
import { Emitter } from "./emitter.js";
import { Sequencer } from "./sequencer.js";
import { resolveToken, type TokenSource } from "./token.js";
import type {
  ClientFrame,
  ErrorFrame,
  Event,
  EventPage,
  PresenceFrame,
  ReadFrame,
  ReadyFrame,
  ResumedFrame,
  ServerFrame,
  TypingFrame,
} from "./types.js";
import { handshakeStatus, OPEN, socketURL, subprotocol, type WebSocketConstructor, type WebSocketLike } from "./websocket.js";

/**
 * idle: not started; connecting: the first connection is being made; open: the server said
 * ready; reconnecting: waiting to try again, or trying; unauthorized: the token was refused (4401
 * or 401), waiting for setToken; closed: close() was called.
 */
export type SocketState = "idle" | "connecting" | "open" | "reconnecting" | "unauthorized" | "closed";

export interface CloseInfo {
  code: number;
  reason: string;
}

export interface ParleySocketEvents {
  /** Every durable event once, in seq order per conversation: live, replayed or paged. */
  event: (event: Event) => void;
  ready: (frame: ReadyFrame) => void;
  resumed: (frame: ResumedFrame) => void;
  typing: (frame: TypingFrame) => void;
  read: (frame: ReadFrame) => void;
  presence: (frame: PresenceFrame) => void;
  /** An error frame from the server: it refused a frame, the connection stays open. */
  error: (frame: ErrorFrame) => void;
  state: (state: SocketState) => void;
  /** A connection ended (the socket reconnects unless the state says otherwise). */
  close: (info: CloseInfo) => void;
  /**
   * Something went wrong on this side: a page of the event log could not be read, a frame could
   * not be parsed, a handler threw, the cursor store failed. The socket carries on (reconnecting
   * where that is what fixes it); this is for logs.
   */
  clientError: (err: unknown) => void;
}

export interface ParleySocketOptions {
  /** Where Parley answers, http(s)://host:port; the socket goes to ws(s)://host:port/v1/ws. */
  baseUrl: string;
  /** The bearer token, or a function that returns a current one before each connection. */
  token: TokenSource;
  /** Pages the event log on resync; by default one is made from baseUrl and token. */
  api?: ParleyClient;
  /** Where cursors are kept between connections (default: in memory). */
  cursors?: CursorStore;
  /** The WebSocket class; default globalThis.WebSocket (Node 20 has none: pass the ws package's). */
  WebSocket?: WebSocketConstructor;
  backoff?: BackoffOptions;
  /** Events per page when paging the log (default 200, the most Parley gives). */
  pageSize?: number;
  /**
   * How long a connection may take to get `ready` before it is given up, and the longest any
   * request of the socket's own may take (default 15 s).
   */
  connectTimeoutMs?: number;
}

/** Close code the client uses when it drops a connection itself (dead, or out of step). */
const clientDropCode = 4000;

interface PendingPing {
  sentAt: number;
  resolve: (rttMs: number) => void;
  reject: (err: Error) => void;
}

/**
 * ParleySocket is a live connection to Parley that survives disconnects: it reconnects with
 * backoff and jitter, resumes from the cursors it keeps, pages the event log when the server asks
 * (resync) and hands the application every event exactly once, in order.
 */
export class ParleySocket {
  private readonly baseUrl: string;
  private token: TokenSource;
  /** Counts setToken calls: a refusal of a token replaced since is no reason to stop. */
  private tokenVersion = 0;
  private readonly api: ParleyClient;
  private readonly store: CursorStore;
  private readonly WebSocketClass: WebSocketConstructor;
  private readonly backoff: Required<BackoffOptions>;
  private readonly pageSize: number;
  private readonly connectTimeoutMs: number;
  private readonly emitter: Emitter<ParleySocketEvents>;
  private readonly sequencer: Sequencer;

  private currentState: SocketState = "idle";
  private ws: WebSocketLike | undefined;
  /** Counts connection attempts; a stale callback of an older one checks it and does nothing. */
  private generation = 0;
  private attempt = 0;
  private cursorsLoaded = false;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private connectTimer: ReturnType<typeof setTimeout> | undefined;
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  private heartbeatMs = 0;
  private lastHeard = 0;
  private heartbeatPing: string | undefined;
  private pingCounter = 0;
  private readonly pings = new Map<string, PendingPing>();
  private presenceUsers: string[] | undefined;
  private reporting = false;

  constructor(options: ParleySocketOptions) {
    this.baseUrl = options.baseUrl;
    this.token = options.token;
    this.api = options.api ?? createParleyClient({ baseUrl: options.baseUrl, token: () => resolveToken(this.token) });
    this.store = options.cursors ?? new MemoryCursorStore();
    const WebSocketClass = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!WebSocketClass) {
      throw new Error("ParleySocket: no global WebSocket here; pass one (such as the ws package's) as the WebSocket option");
    }
    this.WebSocketClass = WebSocketClass;
    this.backoff = resolveBackoff(options.backoff);
    this.pageSize = options.pageSize ?? 200;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 15_000;
    this.emitter = new Emitter<ParleySocketEvents>((err) => this.report(err));
    this.sequencer = new Sequencer({
      deliver: (event) => this.emitter.emit("event", event),
      persist: (id, seq) => this.persist(id, seq),
      page: (id, after, signal) => this.pageEvents(id, after, signal),
      fault: (err, reconnect) => {
        this.report(err);
        if (reconnect) {
          this.drop("event log catch-up failed");
        }
      },
    });
  }

  get state(): SocketState {
    return this.currentState;
  }

  /** on adds a handler and returns the function that removes it. */
  on<K extends keyof ParleySocketEvents>(name: K, handler: ParleySocketEvents[K]): () => void {
    return this.emitter.on(name, handler);
  }

  /** connect starts the socket; it reconnects by itself until close(). */
  connect(): void {
    if (this.currentState === "closed") {
      throw new Error("ParleySocket: closed for good; make a new one");
    }
    if (this.currentState !== "idle") {
      return;
    }
    this.setState("connecting");
    void this.open();
  }

  /** close ends the socket for good: no reconnect. */
  close(): void {
    if (this.currentState === "closed") {
      return;
    }
    this.generation++;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    const ws = this.ws;
    this.endConnection(new Error("socket closed"));
    this.setState("closed");
    if (ws) {
      detach(ws);
      ws.close(1000, "client closed");
      this.emitter.emit("close", { code: 1000, reason: "client closed" });
    }
  }

  /**
   * setToken replaces the token for the next connections. After the server refused the token
   * (state "unauthorized") the socket connects again at once.
   */
  setToken(token: TokenSource): void {
    this.token = token;
    this.tokenVersion++;
    if (this.currentState === "unauthorized") {
      this.attempt = 0;
      this.setState("reconnecting");
      void this.open();
    }
  }

  /**
   * track follows a conversation from afterSeq (default 0) when the socket has no cursor for it
   * yet, so that its events are replayed after a reconnect even if none arrived before: for a
   * conversation just created or loaded over HTTP (pass its `last_seq`).
   */
  track(conversationId: string, afterSeq = 0): void {
    this.sequencer.track(conversationId, afterSeq);
  }

  /** The seq of the last event handed on per conversation: what the next resume asks after. */
  cursors(): Record<string, number> {
    return this.sequencer.snapshot();
  }

  /** typing tells the conversation's other members the user is typing (dropped when not open). */
  typing(conversationId: string): void {
    this.sendIfOpen({ type: "typing", conversation_id: conversationId });
  }

  /** subscribePresence watches these users, replacing the set watched; sent again after every reconnect. */
  subscribePresence(userIds: string[]): void {
    this.presenceUsers = [...userIds];
    this.sendIfOpen({ type: "presence.subscribe", user_ids: this.presenceUsers });
  }

  /** ping measures the round trip of an application ping, in milliseconds. */
  ping(): Promise<number> {
    const ws = this.ws;
    if (this.currentState !== "open" || !ws) {
      return Promise.reject(new Error("ParleySocket: not open"));
    }
    const id = `p${++this.pingCounter}`;
    return new Promise<number>((resolve, reject) => {
      this.pings.set(id, { sentAt: performance.now(), resolve, reject });
      this.send(ws, { type: "ping", id });
    });
  }

  // Connecting.

  private async open(): Promise<void> {
    const generation = ++this.generation;
    const tokenVersion = this.tokenVersion;
    let token: string;
    try {
      if (!this.cursorsLoaded) {
        this.sequencer.load(await this.store.get());
        this.cursorsLoaded = true;
      }
      token = await resolveToken(this.token);
    } catch (err) {
      if (generation === this.generation) {
        this.report(err);
        this.retry(false);
      }
      return;
    }
    if (generation !== this.generation) {
      return; // closed meanwhile
    }
    let ws: WebSocketLike;
    try {
      ws = new this.WebSocketClass(socketURL(this.baseUrl, token), subprotocol);
    } catch (err) {
      this.report(err);
      this.retry(false);
      return;
    }
    this.ws = ws;
    // A handshake into a dead network can hang without end (ws sets no timeout of its own).
    this.connectTimer = setTimeout(() => {
      if (this.ws === ws) {
        this.drop("no ready in time");
      }
    }, this.connectTimeoutMs);
    let opened = false;
    let status: number | undefined;
    ws.onopen = () => {
      opened = true;
    };
    ws.onerror = (event: unknown) => {
      status ??= handshakeStatus(event);
    };
    ws.onmessage = (event: { data: unknown }) => {
      if (this.ws === ws) {
        this.receive(ws, event.data);
      }
    };
    ws.onclose = (event: { code?: number; reason?: string }) => {
      if (this.ws !== ws) {
        return;
      }
      const info = { code: event.code ?? 1006, reason: event.reason ?? "" };
      this.ws = undefined;
      this.endConnection(new Error(`connection closed (${info.code})`));
      this.emitter.emit("close", info);
      void this.afterClose(generation, tokenVersion, info, opened, status);
    };
  }

  /** afterClose decides what follows a connection's end: wait for a token, or try again. */
  private async afterClose(generation: number, tokenVersion: number, info: CloseInfo, opened: boolean, status: number | undefined): Promise<void> {
    if (!opened && status === undefined) {
      // A browser does not say why a handshake failed; a bad token is worth asking about,
      // as retrying with it would go on forever.
      this.setState("reconnecting");
      status = await this.probeToken();
      if (generation !== this.generation || this.currentState === "closed") {
        return;
      }
    }
    if ((info.code === 4401 || status === 401) && tokenVersion === this.tokenVersion) {
      this.setState("unauthorized");
      return;
    }
    this.retry(info.code === 4429 || status === 429);
  }

  /** probeToken answers 401 when Parley refuses the token, else undefined. */
  private async probeToken(): Promise<number | undefined> {
    try {
      const { response } = await this.api.GET("/v1/me", { signal: AbortSignal.timeout(this.connectTimeoutMs) });
      return response.status === 401 ? 401 : undefined;
    } catch {
      return undefined; // unreachable: the backoff handles it
    }
  }

  private retry(rateLimited: boolean): void {
    if (this.currentState === "closed") {
      return;
    }
    this.setState("reconnecting");
    const delay = reconnectDelay(this.attempt++, this.backoff, rateLimited);
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.open();
    }, delay);
  }

  /** drop ends the current connection from this side and reconnects. */
  private drop(reason: string): void {
    const ws = this.ws;
    if (!ws) {
      return;
    }
    this.ws = undefined;
    detach(ws);
    // A dead connection's close handshake would never finish: ws can cut it at once.
    const terminate = (ws as { terminate?: () => void }).terminate;
    if (typeof terminate === "function") {
      terminate.call(ws);
    } else {
      ws.close(clientDropCode, reason);
    }
    this.endConnection(new Error(`connection dropped: ${reason}`));
    this.emitter.emit("close", { code: clientDropCode, reason });
    this.retry(false);
  }

  /** endConnection forgets what belonged to the connection that ended. */
  private endConnection(cause: Error): void {
    clearTimeout(this.connectTimer);
    this.connectTimer = undefined;
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
    this.heartbeatPing = undefined;
    this.sequencer.reset();
    for (const ping of this.pings.values()) {
      ping.reject(cause);
    }
    this.pings.clear();
  }

  // Frames.

  private receive(ws: WebSocketLike, data: unknown): void {
    this.lastHeard = Date.now();
    let frame: ServerFrame;
    try {
      frame = JSON.parse(typeof data === "string" ? data : String(data)) as ServerFrame;
    } catch (err) {
      this.report(new Error(`unreadable frame: ${String(err)}`));
      return;
    }
    switch (frame.type) {
      case "ready":
        this.onReady(ws, frame);
        return;
      case "event":
        this.sequencer.offer(frame.event);
        return;
      case "resumed":
        this.attempt = 0; // the protocol works: the next disconnect starts the backoff over
        this.emitter.emit("resumed", frame);
        return;
      case "resync":
        this.sequencer.resync(frame.conversation_id, frame.after_seq);
        return;
      case "typing":
        this.emitter.emit("typing", frame);
        return;
      case "read":
        this.emitter.emit("read", frame);
        return;
      case "presence":
        this.emitter.emit("presence", frame);
        return;
      case "pong":
        this.onPong(frame.id);
        return;
      case "error":
        this.emitter.emit("error", frame);
        return;
      default:
        return; // a frame type newer than this client
    }
  }

  private onReady(ws: WebSocketLike, frame: ReadyFrame): void {
    clearTimeout(this.connectTimer);
    this.connectTimer = undefined;
    // Resume first: the server holds live events until it knows where the client stands.
    this.send(ws, { type: "resume", cursors: this.sequencer.snapshot() });
    if (this.presenceUsers) {
      this.send(ws, { type: "presence.subscribe", user_ids: this.presenceUsers });
    }
    this.startHeartbeat(ws, frame.heartbeat_ms);
    this.setState("open");
    this.emitter.emit("ready", frame);
  }

  private onPong(id: string | undefined): void {
    if (id === undefined) {
      return;
    }
    if (id === this.heartbeatPing) {
      this.heartbeatPing = undefined;
      return;
    }
    const ping = this.pings.get(id);
    if (ping) {
      this.pings.delete(id);
      ping.resolve(performance.now() - ping.sentAt);
    }
  }

  /**
   * startHeartbeat watches for a dead connection: after heartbeat_ms of silence it sends a ping
   * (the server's own pings are invisible to a browser), and after twice that it gives up on the
   * connection and reconnects.
   */
  private startHeartbeat(ws: WebSocketLike, heartbeatMs: number): void {
    this.heartbeatMs = heartbeatMs > 0 ? heartbeatMs : 25_000;
    this.lastHeard = Date.now();
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = setInterval(() => {
      if (this.ws !== ws) {
        return;
      }
      const silent = Date.now() - this.lastHeard;
      if (silent >= 2 * this.heartbeatMs) {
        this.drop("heartbeat timeout");
      } else if (silent >= this.heartbeatMs && this.heartbeatPing === undefined) {
        this.heartbeatPing = `hb${++this.pingCounter}`;
        this.send(ws, { type: "ping", id: this.heartbeatPing });
      }
    }, Math.max(50, Math.floor(this.heartbeatMs / 4)));
  }

  private sendIfOpen(frame: ClientFrame): void {
    if (this.currentState === "open" && this.ws) {
      this.send(this.ws, frame);
    }
  }

  private send(ws: WebSocketLike, frame: ClientFrame): void {
    if (ws.readyState !== OPEN) {
      return; // closing: the close handler reconnects, and the next ready resends what matters
    }
    try {
      ws.send(JSON.stringify(frame));
    } catch (err) {
      this.report(err);
    }
  }

  // Helpers.

  /**
   * pageEvents reads one page of the log. A page that takes longer than a connection may take to
   * get ready fails (and the socket reconnects): a request into a dead network never ends.
   */
  private async pageEvents(conversationId: string, afterSeq: number, signal: AbortSignal): Promise<EventPage> {
    const bounded = new AbortController();
    const abort = () => bounded.abort();
    const timer = setTimeout(() => bounded.abort(new Error("event log page timed out")), this.connectTimeoutMs);
    signal.addEventListener("abort", abort, { once: true });
    try {
      const { data, error, response } = await this.api.GET("/v1/conversations/{conversation_id}/events", {
        params: { path: { conversation_id: conversationId }, query: { after_seq: afterSeq, limit: this.pageSize } },
        signal: bounded.signal,
      });
      if (!data) {
        throw new ParleyError(response, error);
      }
      return data;
    } finally {
      clearTimeout(timer);
      signal.removeEventListener("abort", abort);
    }
  }

  private persist(conversationId: string, seq: number): void {
    try {
      const done = this.store.set(conversationId, seq);
      if (done instanceof Promise) {
        done.catch((err: unknown) => this.report(err));
      }
    } catch (err) {
      this.report(err);
    }
  }

  private setState(state: SocketState): void {
    if (this.currentState !== state) {
      this.currentState = state;
      this.emitter.emit("state", state);
    }
  }

  private report(err: unknown): void {
    // A clientError handler that throws is reported to nobody: that way lies recursion.
    if (this.reporting) {
      return;
    }
    this.reporting = true;
    try {
      this.emitter.emit("clientError", err);
    } finally {
      this.reporting = false;
    }
  }
}

/**
 * detach silences a connection this socket is done with. The error handler stays a no-op rather
 * than null: ws treats an error event nobody listens to as an uncaught exception.
 */
function detach(ws: WebSocketLike): void {
  const ignore = () => {};
  ws.onopen = ignore;
  ws.onmessage = ignore;
  ws.onclose = ignore;
  ws.onerror = ignore;
}
