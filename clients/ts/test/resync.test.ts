// A socket that missed more than the server replays is told to resync, and pages the log.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";

import { createParleyClient } from "@parley/client";

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

describe("resync", () => {
  it("pages the event log when the gap exceeds what the server replays, emitting each event once in order", async () => {
    const resumeLimit = 5;
    const server = await ParleyServer.start({ args: ["--resume-limit", String(resumeLimit)] });
    cleanups.push(() => server.close());
    const proxy = await CutProxy.start(server.port);
    cleanups.push(() => proxy.close());
    const alice = createParleyClient({ baseUrl: server.baseUrl, token: server.token("alice") });
    const conv = await groupOf(alice, ["bob"]);

    const pages: URL[] = [];
    const bobToken = server.token("bob");
    const bobApi = createParleyClient({
      baseUrl: proxy.baseUrl,
      token: bobToken,
      fetch: (request) => {
        const url = new URL(request.url);
        if (url.pathname.endsWith("/events")) {
          pages.push(url);
        }
        return fetch(request);
      },
    });
    const bob = recordingSocket({ baseUrl: proxy.baseUrl, token: bobToken, api: bobApi, pageSize: 4 });
    cleanups.push(() => bob.socket.close());
    bob.socket.track(conv.id, conv.lastSeq);
    bob.socket.connect();
    await waitFor("bob's socket resumed", () => bob.resumes() === 1);

    // Bob sees the first two live, then is out of reach while 20 more are sent.
    await sendMessages(alice, conv.id, [1, 2]);
    await waitFor("bob's first two events", () => bob.events.length === 2);
    proxy.refuse();
    await waitFor("bob's socket to notice", () => bob.socket.state === "reconnecting");
    const missed = 20;
    await sendMessages(alice, conv.id, [3, 2 + missed]);
    assert.equal(bob.events.length, 2);
    assert.equal(pages.length, 0, "nothing paged before the resync");

    // Back in reach: the resume is refused (too much), the socket pages, and live events that
    // arrive meanwhile are held and deduplicated.
    proxy.allow();
    const total = 2 + missed + 10;
    await sendMessages(alice, conv.id, [3 + missed, total]);
    await waitFor(`all ${total} events`, () => bob.events.length >= total, 20_000);

    assert.deepEqual(bob.seqs(conv.id), range(conv.lastSeq + 1, conv.lastSeq + total));
    assert.deepEqual(
      bob.events.map((e) => e.message?.client_msg_id),
      range(1, total).map((i) => `msg-${i}`),
    );
    assert.ok(pages.length >= Math.ceil(missed / 4), `${pages.length} pages read`);
    assert.equal(pages[0]?.searchParams.get("after_seq"), String(conv.lastSeq + 2), "paging starts at the socket's cursor");
    assert.equal(pages[0]?.searchParams.get("limit"), "4");
    assert.deepEqual(bob.errors, []);

    // Live again afterwards.
    await sendMessages(alice, conv.id, [total + 1, total + 1]);
    await waitFor("one more live event", () => bob.events.length === total + 1);
  });
});
