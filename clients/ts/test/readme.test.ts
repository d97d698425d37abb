// The README's TypeScript examples are files under examples/, and they run against Parley.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import { after, before, describe, it } from "node:test";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

import { ParleyServer, removeBuild } from "./support/server.js";

const run = promisify(execFile);
const packageDir = fileURLToPath(new URL("../../", import.meta.url)); // clients/ts, from dist-test/test/
const readmePath = join(packageDir, "..", "..", "README.md");
const examplesDir = join(packageDir, "examples");

let server: ParleyServer;
before(async () => {
  server = await ParleyServer.start();
});
after(async () => {
  await server?.close();
  await removeBuild();
});

describe("README examples", () => {
  it("examples/readme.ts creates a conversation, sends, and prints the event its socket receives", async () => {
    const { stdout } = await run(process.execPath, ["dist-test/examples/readme.js"], {
      cwd: packageDir,
      env: { ...process.env, PARLEY_URL: server.baseUrl, PARLEY_TOKEN: server.token("alice") },
      timeout: 20_000,
    });
    assert.equal(stdout, "#1 message.created by alice: Hello, team\n");
  });

  it("every ```ts block of the repository README is a file under examples/", async () => {
    const readme = await readFile(readmePath, "utf8");
    const blocks = [...readme.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
    const names = (await readdir(examplesDir)).filter((f) => f.endsWith(".ts"));
    const examples = await Promise.all(names.map((f) => readFile(join(examplesDir, f), "utf8")));
    for (const block of blocks) {
      assert.ok(
        examples.includes(block),
        `a ts block of README.md is no file under clients/ts/examples/ (copy the file into it verbatim):\n${block}`,
      );
    }
  });
});
