// A socket whose connection is cut while messages are sent receives every event once, in order.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";

import { createParleyClient, unwrap } from "@parley/client";

import { groupOf, range, recordingSocket, sendMessages } from "./support/chat.js";
import { CutProxy } from "./support/proxy.js";
import { ParleyServer, removeBuild } from "./support/server.js";
import { waitFor } from "./support/wait.js";

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) {
    await c();
  }
  await removeBuild();
});

describe("resume across cuts", () => {
  it("survives the server restarting (SIGTERM, then SIGKILL) while messages are sent", async () => {
    const server = await ParleyServer.start();
    cleanups.push(() => server.close());
    const alice = createParleyClient({ baseUrl: server.baseUrl, token: server.token("alice") });
    const conv = await groupOf(alice, ["bob"]);
    const bob = recordingSocket({ baseUrl: server.baseUrl, token: server.token("bob") });
    cleanups.push(() => bob.socket.close());
    bob.socket.track(conv.id, conv.lastSeq);
    bob.socket.connect();
    await waitFor("bob's socket resumed", () => bob.resumes() === 1);

    const n = 60;
    // Each restart runs while the sends go on (they fail and are retried until it is back).
    let restart: Promise<void> = Promise.resolve();
    await sendMessages(alice, conv.id, [1, n], async (i) => {
      if (i === 20 || i === 40) {
        await restart;
        await waitFor("bob's socket open", () => bob.socket.state === "open");
        restart = server.restart(i === 20 ? "SIGTERM" : "SIGKILL");
      }
    });
    await restart;
    await waitFor(`bob's ${n} events`, () => bob.events.length >= n, 20_000);

    assert.deepEqual(bob.seqs(conv.id), range(conv.lastSeq + 1, conv.lastSeq + n));
    assert.deepEqual(
      bob.events.map((e) => e.message?.body),
      range(1, n).map((i) => `message ${i}`),
    );
    assert.ok(bob.readies() >= 3, `bob connected ${bob.readies()} times; the restarts should have cut it twice`);
    // The log agrees with what the socket handed on.
    const log = await unwrap(alice.GET("/v1/conversations/{conversation_id}/events", { params: { path: { conversation_id: conv.id }, query: { limit: 200 } } }));
    assert.equal(log.items.at(-1)?.seq, conv.lastSeq + n);
  });

  it("survives connections cut and stalled in the network", async () => {
    const server = await ParleyServer.start({ args: ["--heartbeat", "1s"] });
    cleanups.push(() => server.close());
    const proxy = await CutProxy.start(server.port);
    cleanups.push(() => proxy.close());
    const alice = createParleyClient({ baseUrl: server.baseUrl, token: server.token("alice") });
    const conv = await groupOf(alice, ["bob"]);
    // Bob's socket and its event-log reads both go through the proxy.
    const bob = recordingSocket({ baseUrl: proxy.baseUrl, token: server.token("bob"), connectTimeoutMs: 1_000 });
    cleanups.push(() => bob.socket.close());
    bob.socket.track(conv.id, conv.lastSeq);
    bob.socket.connect();
    await waitFor("bob's socket resumed", () => bob.resumes() === 1);

    const n = 60;
    let stalled: Promise<void> | undefined;
    await sendMessages(alice, conv.id, [1, n], async (i) => {
      if (i === 12 || i === 24 || i === 54) {
        await waitFor("bob's socket open again", () => bob.socket.state === "open");
        proxy.cut();
      } else if (i === 30) {
        // A connection that stays open but brings nothing: only the heartbeat can tell.
        await waitFor("bob's socket open again", () => bob.socket.state === "open");
        proxy.stall();
        stalled = waitFor("the heartbeat to drop the stalled connection", () => bob.closeReasons.includes("heartbeat timeout"), 6_000);
      } else if (i === 45) {
        await stalled;
        proxy.unstall();
      }
    });
    await waitFor(`bob's ${n} events`, () => bob.events.length >= n, 20_000);

    assert.deepEqual(bob.seqs(conv.id), range(conv.lastSeq + 1, conv.lastSeq + n));
    assert.ok(bob.readies() >= 5, `bob connected ${bob.readies()} times; the proxy cut or stalled it four times`);
  });
});
