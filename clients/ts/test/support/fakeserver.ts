// A scripted stand-in for Parley's WebSocket endpoint, for what a real server does only at its
// own pace (rate limits, a connection that goes silent, refusals at the handshake).
import { createServer, type IncomingMessage, type Server } from "node:http";

import { WebSocketServer, type WebSocket } from "ws";

export interface FakeConnection {
  ws: WebSocket;
  url: URL;
  protocol: string;
  /** Frames the client sent, parsed. */
  frames: Record<string, unknown>[];
  openedAt: number;
}

export interface FakeServerOptions {
  /** HTTP status to refuse the handshake with (e.g. 401, 429); undefined accepts it. */
  refuse?: (req: IncomingMessage) => number | undefined;
  /** Called for each accepted connection; sends ready unless it returns false. */
  onConnection?: (c: FakeConnection) => void | false;
  heartbeatMs?: number;
  /** The status GET /v1/me answers (default 200). */
  meStatus?: () => number;
}

export class FakeServer {
  readonly connections: FakeConnection[] = [];
  readonly refusals: { status: number; at: number }[] = [];
  /** The Authorization header of each plain HTTP request. */
  readonly meRequests: string[] = [];
  port = 0;

  private constructor(
    private readonly http: Server,
    private readonly wss: WebSocketServer,
  ) {}

  static async start(options: FakeServerOptions = {}): Promise<FakeServer> {
    const http = createServer((req, res) => {
      // GET /v1/me, which the socket asks when it cannot tell why a handshake failed.
      fake.meRequests.push(req.headers.authorization ?? "");
      const status = options.meStatus?.() ?? 200;
      res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify({ user_id: "alice" }));
    });
    const wss = new WebSocketServer({ noServer: true, handleProtocols: (protocols) => (protocols.has("parley.v1") ? "parley.v1" : false) });
    const fake = new FakeServer(http, wss);
    http.on("upgrade", (req, socket, head) => {
      const status = options.refuse?.(req);
      if (status !== undefined) {
        fake.refusals.push({ status, at: Date.now() });
        socket.end(`HTTP/1.1 ${status} Refused\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => {
        const c: FakeConnection = { ws, url: new URL(req.url ?? "/", "http://x"), protocol: ws.protocol, frames: [], openedAt: Date.now() };
        fake.connections.push(c);
        ws.on("message", (data) => c.frames.push(JSON.parse(data.toString()) as Record<string, unknown>));
        if (options.onConnection?.(c) !== false) {
          ws.send(JSON.stringify({ type: "ready", session_id: `s${fake.connections.length}`, user_id: "alice", heartbeat_ms: options.heartbeatMs ?? 25_000 }));
        }
      });
    });
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
    const address = http.address();
    fake.port = typeof address === "object" && address ? address.port : 0;
    return fake;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async close(): Promise<void> {
    for (const c of this.connections) {
      c.ws.terminate();
    }
    this.wss.close();
    this.http.closeAllConnections();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }
}
