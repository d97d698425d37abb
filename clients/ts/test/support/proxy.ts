// A TCP proxy the tests put between a socket and Parley: it can cut every connection at once,
// or stall them: keep them open and pass nothing on to the client, while what the client sends
// (its pongs too) still reaches the server. Only the client's own heartbeat notices that.
import { createServer, connect, type Server, type Socket } from "node:net";

export class CutProxy {
  private readonly pairs = new Set<[Socket, Socket]>();
  private stalled = false;
  private refusing = false;
  port = 0;

  private constructor(private readonly server: Server) {}

  static async start(targetPort: number): Promise<CutProxy> {
    let proxy: CutProxy | undefined;
    const server = createServer((client) => proxy?.accept(client, targetPort));
    proxy = new CutProxy(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    proxy.port = typeof address === "object" && address ? address.port : 0;
    return proxy;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** connections counts the connections open through the proxy. */
  get connections(): number {
    return this.pairs.size;
  }

  private accept(client: Socket, targetPort: number): void {
    if (this.refusing) {
      client.destroy();
      return;
    }
    const upstream = connect(targetPort, "127.0.0.1");
    const pair: [Socket, Socket] = [client, upstream];
    this.pairs.add(pair);
    client.on("data", (chunk) => upstream.write(chunk));
    upstream.on("data", (chunk) => {
      if (!this.stalled) {
        client.write(chunk);
      }
    });
    const end = () => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on("close", end).on("error", end);
    upstream.on("close", end).on("error", end);
  }

  /** cut destroys every connection through the proxy, as a network failure would. */
  cut(): void {
    for (const [client, upstream] of this.pairs) {
      client.destroy();
      upstream.destroy();
    }
    this.pairs.clear();
  }

  /** stall swallows what the server sends on every connection (new ones too) until unstall. */
  stall(): void {
    this.stalled = true;
  }

  unstall(): void {
    this.stalled = false;
  }

  /** refuse cuts every connection and any new one until allow: the server is out of reach. */
  refuse(): void {
    this.refusing = true;
    this.cut();
  }

  allow(): void {
    this.refusing = false;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
