// npm test: builds the server once (unless PARLEY_BIN names one), then runs every test file with
// Node's test runner, which each start their own servers from that binary.
import { spawn } from "node:child_process";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { parleyBinary, removeBuild } from "./support/server.js";

const here = fileURLToPath(new URL(".", import.meta.url));
const files = (await readdir(here)).filter((f) => f.endsWith(".test.js")).map((f) => join(here, f));
const bin = await parleyBinary();
const code = await new Promise<number>((resolve) => {
  const child = spawn(process.execPath, ["--test", "--test-concurrency=1", ...process.argv.slice(2), ...files], {
    stdio: "inherit",
    env: { ...process.env, PARLEY_BIN: bin },
  });
  child.on("exit", (status, signal) => resolve(status ?? (signal ? 1 : 0)));
});
await removeBuild();
process.exit(code);
