// What a real Parley refuses a socket for, and how the socket takes it.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { createParleyClient } from "@parley/client";

import { groupOf, range, recordingSocket, sendMessages } from "./support/chat.js";
import { ParleyServer, removeBuild } from "./support/server.js";
import { waitFor } from "./support/wait.js";

let server: ParleyServer;
const cleanups: (() => void)[] = [];
before(async () => {
  server = await ParleyServer.start({ args: ["--max-conns-per-user", "1"] });
});
after(async () => {
  cleanups.forEach((c) => c());
  await server?.close();
  await removeBuild();
});

describe("refusals from Parley", () => {
  it("stops at 4401 when the token expires, and resumes after setToken", async () => {
    const alice = createParleyClient({ baseUrl: server.baseUrl, token: server.token("alice") });
    const conv = await groupOf(alice, ["erin"]);
    const erin = recordingSocket({ baseUrl: server.baseUrl, token: server.token("erin", 2) });
    cleanups.push(() => erin.socket.close());
    erin.socket.track(conv.id, conv.lastSeq);
    erin.socket.connect();
    await waitFor("open", () => erin.socket.state === "open");
    await sendMessages(alice, conv.id, [1, 3]);
    await waitFor("token expiry", () => erin.socket.state === "unauthorized", 5_000);
    assert.deepEqual(erin.closes, [4401]);
    await sendMessages(alice, conv.id, [4, 6]);
    erin.socket.setToken(() => server.token("erin"));
    await waitFor("all six events", () => erin.events.length === 6);
    assert.deepEqual(erin.seqs(conv.id), range(conv.lastSeq + 1, conv.lastSeq + 6));
    assert.equal(erin.socket.state, "open");
  });

  it("takes a handshake refused with 401 (an expired token) as unauthorized", async () => {
    const frank = recordingSocket({ baseUrl: server.baseUrl, token: server.token("frank", -120) });
    cleanups.push(() => frank.socket.close());
    frank.socket.connect();
    await waitFor("unauthorized", () => frank.socket.state === "unauthorized");
    assert.equal(frank.readies(), 0);
    frank.socket.setToken(server.token("frank"));
    await waitFor("open", () => frank.socket.state === "open");
  });

  it("waits at least rateLimitedMinMs after 4429 (too many connections for the user)", async () => {
    const first = recordingSocket({ baseUrl: server.baseUrl, token: server.token("gina") });
    cleanups.push(() => first.socket.close());
    first.socket.connect();
    await waitFor("first open", () => first.socket.state === "open");
    const second = recordingSocket({ baseUrl: server.baseUrl, token: server.token("gina") });
    cleanups.push(() => second.socket.close());
    let refusedAt = 0;
    second.socket.on("close", (c) => {
      if (c.code === 4429 && refusedAt === 0) {
        refusedAt = Date.now();
        first.socket.close(); // make room
      }
    });
    second.socket.connect();
    await waitFor("the second socket open", () => second.socket.state === "open", 5_000);
    const waited = Date.now() - refusedAt;
    assert.ok(refusedAt > 0, "the second connection was refused with 4429");
    assert.ok(waited >= 400, `reconnected ${waited} ms after 4429, sooner than rateLimitedMinMs`);
  });
});
