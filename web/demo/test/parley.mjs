// Starts and stops a real `parley serve --dev` for the browser test.
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createServer } from "node:net";
import { join } from "node:path";

const moduleRoot = new URL("../../../", import.meta.url).pathname;

// buildParley returns the parley binary: PARLEY_BIN, or one built from this checkout into dir.
export function buildParley(dir) {
  if (process.env.PARLEY_BIN) return process.env.PARLEY_BIN;
  const bin = join(dir, "parley");
  const go = spawnSync("go", ["build", "-o", bin, "./cmd/parley"], { cwd: moduleRoot, stdio: ["ignore", "inherit", "inherit"] });
  if (go.status !== 0) throw new Error(`go build ./cmd/parley failed (status ${go.status})`);
  return bin;
}

export async function freePort() {
  const srv = createServer();
  await new Promise((resolve, reject) => srv.listen(0, "127.0.0.1", resolve).once("error", reject));
  const { port } = srv.address();
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

// A database of its own for each run, created by parley on start and dropped by drop().
export function databaseName() {
  return `parley_demo_${randomBytes(6).toString("hex")}`;
}

export function databaseURL(name) {
  return `${postgres()}/${name}?sslmode=disable`;
}

// postgres is the server the test uses, PARLEY_TEST_POSTGRES or the local one, without a database.
function postgres() {
  return (process.env.PARLEY_TEST_POSTGRES ?? "postgres://postgres@127.0.0.1:5432").replace(/\/+$/, "");
}

// Parley is one running server; stop() ends it and waits for it to exit.
export class Parley {
  constructor(bin, port, dbURL) {
    this.bin = bin;
    this.port = port;
    this.dbURL = dbURL;
    this.origin = `http://127.0.0.1:${port}`;
    this.log = "";
  }

  async start() {
    this.proc = spawn(this.bin, ["serve", "--dev", "--addr", `127.0.0.1:${this.port}`, "--database-url", this.dbURL, "--log-level", "warn"], {
      cwd: moduleRoot,
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.exited = new Promise((resolve) => this.proc.once("exit", (code, signal) => resolve({ code, signal })));
    for (const stream of [this.proc.stdout, this.proc.stderr]) stream.on("data", (d) => { this.log += d; });
    await this.ready();
  }

  // ready polls /readyz until it answers 200, the process exits, or the deadline passes.
  async ready(timeoutMs = 30_000) {
    const deadline = Date.now() + timeoutMs;
    let exited = false;
    this.exited.then(() => { exited = true; });
    for (;;) {
      if (exited) throw new Error(`parley exited before it was ready:\n${this.log}`);
      try {
        const res = await fetch(`${this.origin}/readyz`);
        if (res.ok) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`parley was not ready within ${timeoutMs} ms:\n${this.log}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  async stop() {
    if (!this.proc || this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.proc.kill("SIGTERM");
    const { code, signal } = await this.exited;
    if (code !== 0 && signal === null) throw new Error(`parley exited with ${code}:\n${this.log}`);
  }
}

// dropDatabase removes the run's database (with psql, as PostgreSQL's own client).
export function dropDatabase(name) {
  const psql = spawnSync("psql", [`${postgres()}/postgres`, "-v", "ON_ERROR_STOP=1", "-qc", `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`], { encoding: "utf8" });
  if (psql.error || psql.status !== 0) return `could not drop database ${name}: ${psql.error?.message ?? psql.stderr}`;
  return undefined;
}
