import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { Sequencer, type Event, type EventPage } from "@parley/client";

import { waitFor } from "./support/wait.js";

const conv = "0f8fad5b-d9cb-469f-a165-70867728950e";
const other = "7f1c2a9e-3b5d-4c8e-9a1f-2b3c4d5e6f70";

function ev(seq: number, conversationId = conv): Event {
  return { conversation_id: conversationId, seq, type: "message.created", actor_id: "alice", created_at: "2026-12-02T10:00:00Z" };
}

/** A log of events 1..last for conv, paged like Parley, with hooks to act between pages. */
function harness(last: number, pageSize = 3) {
  const delivered: Event[] = [];
  const persisted = new Map<string, number>();
  const faults: { err: unknown; reconnect: boolean }[] = [];
  const pages: number[] = [];
  let beforePage: (after: number) => void | Promise<void> = () => {};
  let fail: Error | undefined;
  const seq = new Sequencer({
    deliver: (e) => delivered.push(e),
    persist: (id, s) => persisted.set(id, s),
    fault: (err, reconnect) => faults.push({ err, reconnect }),
    page: async (_id, after): Promise<EventPage> => {
      pages.push(after);
      await beforePage(after);
      if (fail) {
        throw fail;
      }
      const items: Event[] = [];
      for (let s = after + 1; s <= Math.min(last, after + pageSize); s++) {
        items.push(ev(s));
      }
      return { items, has_more: after + pageSize < last };
    },
  });
  return {
    seq,
    delivered,
    persisted,
    faults,
    pages,
    seqs: () => delivered.filter((e) => e.conversation_id === conv).map((e) => e.seq),
    setLast: (n: number) => (last = n),
    onPage: (f: typeof beforePage) => (beforePage = f),
    failWith: (e: Error) => (fail = e),
  };
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe("Sequencer", () => {
  it("passes events on once, in order, and drops what it has seen", () => {
    const h = harness(0);
    for (const s of [1, 2, 2, 3, 1, 4]) {
      h.seq.offer(ev(s));
    }
    assert.deepEqual(h.seqs(), [1, 2, 3, 4]);
    assert.equal(h.persisted.get(conv), 4);
    assert.deepEqual(h.seq.snapshot(), { [conv]: 4 });
    assert.deepEqual(h.pages, []);
  });

  it("starts an unknown conversation at the first event it sees", () => {
    const h = harness(0);
    h.seq.offer(ev(7, other));
    h.seq.offer(ev(8, other));
    assert.deepEqual(
      h.delivered.map((e) => e.seq),
      [7, 8],
    );
    assert.equal(h.seq.cursor(other), 8);
  });

  it("fills a gap from the log before passing later events on", async () => {
    const h = harness(10);
    h.seq.offer(ev(1));
    h.seq.offer(ev(5)); // 2..4 never came: a fault of the server, fixed by paging
    h.seq.offer(ev(6));
    await waitFor("catch-up", () => !h.seq.catchingUp(conv));
    assert.deepEqual(h.seqs(), range(1, 10));
    assert.deepEqual(h.pages, [1, 4, 7]);
    assert.deepEqual(h.faults, []);
  });

  it("on resync pages to the end, holding live events that arrive meanwhile", async () => {
    const h = harness(12, 5);
    h.seq.load({ [conv]: 2 });
    h.onPage((after) => {
      if (after === 2) {
        // Live events flow while the log is read: some the log has, one it will have.
        h.seq.offer(ev(14));
        h.seq.offer(ev(11));
        h.seq.offer(ev(13));
        h.setLast(13);
      }
    });
    h.seq.resync(conv, 2);
    assert.ok(h.seq.catchingUp(conv));
    await waitFor("resync", () => !h.seq.catchingUp(conv));
    assert.deepEqual(h.seqs(), range(3, 14));
    h.seq.offer(ev(15));
    assert.deepEqual(h.seqs(), range(3, 15));
  });

  it("starts a resync of a conversation it has no cursor for at after_seq", async () => {
    const h = harness(4);
    h.seq.resync(conv, 1);
    await waitFor("resync", () => !h.seq.catchingUp(conv));
    assert.deepEqual(h.seqs(), [2, 3, 4]);
  });

  it("asks for a reconnect when a page fails, and keeps what it had passed on", async () => {
    const h = harness(10);
    h.seq.load({ [conv]: 1 });
    h.onPage((after) => {
      if (after > 1) {
        h.failWith(new Error("network down"));
      }
    });
    h.seq.resync(conv, 1);
    await waitFor("fault", () => h.faults.length === 1);
    assert.equal(h.faults[0]?.reconnect, true);
    assert.deepEqual(h.seqs(), [2, 3, 4]);
    assert.equal(h.seq.cursor(conv), 4);
    assert.ok(!h.seq.catchingUp(conv));
  });

  it("leaves a conversation the caller no longer belongs to (404) without reconnecting", async () => {
    const h = harness(10);
    h.failWith(Object.assign(new Error("not found"), { status: 404 }));
    h.seq.resync(conv, 0);
    await waitFor("fault", () => h.faults.length === 1);
    assert.equal(h.faults[0]?.reconnect, false);
  });

  it("drops a catch-up cut short by reset, passing nothing on from it", async () => {
    const h = harness(10);
    let release: () => void = () => {};
    h.onPage(() => new Promise<void>((resolve) => (release = resolve)));
    h.seq.resync(conv, 0);
    h.seq.offer(ev(9));
    await waitFor("page requested", () => h.pages.length === 1);
    h.seq.reset();
    release();
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(h.seqs(), []);
    assert.deepEqual(h.faults, []);
    assert.ok(!h.seq.catchingUp(conv));
    // The next connection resumes from the cursor, unchanged.
    assert.equal(h.seq.cursor(conv), 0);
  });

  it("stops passing a page on when a handler resets it (the socket was closed)", async () => {
    const delivered: number[] = [];
    const seq: Sequencer = new Sequencer({
      deliver: (e) => {
        delivered.push(e.seq);
        if (e.seq === 2) {
          seq.reset();
        }
      },
      persist: () => {},
      fault: () => assert.fail("no fault"),
      page: async (_id, after) => ({ items: range(after + 1, after + 5).map((s) => ev(s)), has_more: false }),
    });
    seq.resync(conv, 0);
    await waitFor("reset", () => !seq.catchingUp(conv));
    assert.deepEqual(delivered, [1, 2]);
  });

  it("track sets a cursor only where there is none", () => {
    const h = harness(0);
    assert.equal(h.seq.track(conv, 5), true);
    assert.equal(h.seq.track(conv, 0), false);
    assert.equal(h.seq.cursor(conv), 5);
    h.seq.offer(ev(5));
    h.seq.offer(ev(6));
    assert.deepEqual(h.seqs(), [6]);
  });

  it("never moves a loaded cursor back", () => {
    const h = harness(0);
    h.seq.load({ [conv]: 9 });
    h.seq.load({ [conv]: 3, [other]: 2 });
    assert.deepEqual(h.seq.snapshot(), { [conv]: 9, [other]: 2 });
  });
});
