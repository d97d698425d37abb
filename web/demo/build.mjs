// Builds the demo page into dist/ after type-checking it: app.js (the page and the Parley client,
// bundled), app.css and index.html. The output depends on the sources only — no timestamps, no
// source maps, no absolute paths — so that rebuilding an unchanged tree changes nothing and CI can
// check for drift.
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const client = join(here, "../../clients/ts");
const dist = join(here, "dist");

// The page bundles the client from its sources, which import the client's own dependencies.
if (!existsSync(join(client, "node_modules"))) {
  const npm = spawnSync("npm", ["ci", "--no-audit", "--no-fund"], { cwd: client, stdio: "inherit" });
  if (npm.status !== 0) throw new Error(`npm ci in clients/ts failed (status ${npm.status})`);
}

// Type-check the page (and the client sources it imports) first: esbuild only strips types.
const tsc = spawnSync(process.execPath, [join(here, "node_modules/typescript/bin/tsc"), "--noEmit", "-p", here], { stdio: "inherit" });
if (tsc.status !== 0) throw new Error("the demo page does not type-check");

mkdirSync(dist, { recursive: true });
const common = { bundle: true, absWorkingDir: here, logLevel: "warning", legalComments: "none", charset: "utf8", sourcemap: false };
await esbuild.build({ ...common, entryPoints: ["src/main.ts"], outfile: "dist/app.js", format: "esm", target: "es2022", platform: "browser" });
await esbuild.build({ ...common, entryPoints: ["src/app.css"], outfile: "dist/app.css" });
copyFileSync(join(here, "src/index.html"), join(dist, "index.html"));
