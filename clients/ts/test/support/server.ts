// A real Parley for the tests: the server binary (built once per test file, or PARLEY_BIN), its
// own database, and a process the test can stop, kill and start again on the same port.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { randomBytes } from "node:crypto";

import { mintToken, newSecret } from "./jwt.js";
import { waitFor } from "./wait.js";

const run = promisify(execFile);
/** The repository root, from dist-test/test/support/ of clients/ts. */
const repoRoot = fileURLToPath(new URL("../../../../../", import.meta.url));

let built: Promise<string> | undefined;
let buildDir: string | undefined;

/** parleyBinary returns the server binary: PARLEY_BIN, or one go builds from this checkout. */
export function parleyBinary(): Promise<string> {
  const given = process.env.PARLEY_BIN;
  if (given) {
    return Promise.resolve(given);
  }
  built ??= (async () => {
    buildDir = await mkdtemp(join(tmpdir(), "parley-ts-"));
    const bin = join(buildDir, "parley");
    try {
      await run("go", ["build", "-o", bin, "./cmd/parley"], { cwd: repoRoot, maxBuffer: 16 << 20 });
    } catch (err) {
      const e = err as { stderr?: string };
      throw new Error(`go build of the parley server failed (set PARLEY_BIN to use a built one): ${e.stderr ?? String(err)}`);
    }
    return bin;
  })();
  return built;
}

/** removeBuild deletes the binary this file built. */
export async function removeBuild(): Promise<void> {
  if (buildDir) {
    await rm(buildDir, { recursive: true, force: true });
  }
}

export interface ParleyOptions {
  /** More serve flags, such as ["--resume-limit", "5"]. */
  args?: string[];
}

/** ParleyServer is one Parley process at a fixed address over its own database. */
export class ParleyServer {
  readonly secret = newSecret();
  readonly database = `parley_ts_${randomBytes(6).toString("hex")}`;
  port = 0;
  private proc: ChildProcess | undefined;
  private exited: Promise<void> | undefined;
  private stderr = "";

  private constructor(
    private readonly bin: string,
    private readonly args: string[],
  ) {}

  static async start(options: ParleyOptions = {}): Promise<ParleyServer> {
    const server = new ParleyServer(await parleyBinary(), options.args ?? []);
    server.port = await freePort();
    await server.launch();
    return server;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  token(user: string, ttlSeconds = 3600): string {
    return mintToken(this.secret, user, ttlSeconds);
  }

  /** launch starts the process and waits until /readyz answers 200. */
  async launch(): Promise<void> {
    const args = [
      "serve",
      "--addr", `127.0.0.1:${this.port}`,
      "--database-url", `postgres://postgres@127.0.0.1:5432/${this.database}?sslmode=disable`,
      "--jwt-secret", this.secret,
      "--log-level", "warn",
      "--shutdown-timeout", "2s",
      // Tests send faster than any person.
      "--limit-sends-per-minute", "0",
      "--limit-writes-per-minute", "0",
      ...this.args,
    ];
    const proc = spawn(this.bin, args, { stdio: ["ignore", "ignore", "pipe"] });
    this.proc = proc;
    this.stderr = "";
    proc.stderr?.on("data", (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-8000);
    });
    this.exited = new Promise((resolve) => proc.once("exit", () => resolve()));
    let gone = false;
    void this.exited.then(() => (gone = true));
    try {
      await waitFor(
        "parley /readyz",
        async () => {
          if (gone) {
            throw new Error(`parley exited at start: ${this.stderr}`);
          }
          try {
            const res = await fetch(`${this.baseUrl}/readyz`);
            await res.body?.cancel();
            return res.status === 200;
          } catch {
            return false;
          }
        },
        30_000,
      );
    } catch (err) {
      proc.kill("SIGKILL");
      throw err;
    }
  }

  /** stop ends the process with signal (SIGTERM drains; SIGKILL is a crash) and waits for it. */
  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) {
      return;
    }
    proc.kill(signal);
    await this.exited;
  }

  /** restart stops the process with signal and starts a new one on the same port and database. */
  async restart(signal: NodeJS.Signals): Promise<void> {
    await this.stop(signal);
    await this.launch();
  }

  /** close stops the server and drops its database. */
  async close(): Promise<void> {
    await this.stop("SIGTERM");
    await run("psql", ["-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-c", `DROP DATABASE IF EXISTS ${this.database} WITH (FORCE)`]);
  }
}

/** freePort asks the kernel for a port nobody listens on. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const l = createServer();
    l.once("error", reject);
    l.listen(0, "127.0.0.1", () => {
      const address = l.address();
      const port = typeof address === "object" && address ? address.port : 0;
      l.close(() => resolve(port));
    });
  });
}
