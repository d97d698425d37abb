// The page's state, without a browser: what the sidebar counts and what the message list shows
// must not change when the same event reaches the page twice — from a page of history and from
// the socket, or replayed after a reconnect — nor miss one that arrives while history loads.
import assert from "node:assert/strict";
import { test } from "node:test";
import * as esbuild from "esbuild";

// The two modules, bundled from their TypeScript sources and imported from memory.
const built = await esbuild.build({
  stdin: { contents: 'export { Timeline } from "./src/timeline.ts"; export { Inbox } from "./src/inbox.ts";', resolveDir: new URL("..", import.meta.url).pathname, loader: "ts" },
  bundle: true, format: "esm", write: false, logLevel: "warning",
});
const { Timeline, Inbox } = await import(`data:text/javascript;base64,${Buffer.from(built.outputFiles[0].text).toString("base64")}`);

const conv = "0f8fad5b-d9cb-469f-a165-70867728950e";
const at = "2026-11-27T10:00:00Z";

function message(seq, sender, body, extra = {}) {
  return { id: `m${seq}`, conversation_id: conv, seq, sender_id: sender, client_msg_id: `c${seq}`, body, created_at: at, reply_count: 0, mentions: [], reactions: [], ...extra };
}
const created = (m) => ({ conversation_id: conv, seq: m.seq, type: "message.created", actor_id: m.sender_id, created_at: at, message: m });
const reacted = (seq, msgSeq, emoji, user) => ({ conversation_id: conv, seq, type: "reaction.added", actor_id: user, created_at: at, reaction: { message_seq: msgSeq, emoji, user_id: user } });
const deleted = (seq, m) => ({ conversation_id: conv, seq, type: "message.deleted", actor_id: m.sender_id, created_at: at, message: { ...m, body: "", deleted_at: at } });

test("a reaction counts once whether it came with the history, the socket, or both", () => {
  const t = new Timeline(conv, "bob");
  const hello = message(1, "alice", "hello");
  t.apply(created(hello));
  t.apply(reacted(2, 1, "🎉", "bob"));
  // History read as of seq 2 already holds the reaction; the socket replays seq 2 after it.
  t.merge([{ ...hello, reactions: [{ emoji: "🎉", count: 1 }], my_reactions: ["🎉"] }], 2);
  t.apply(reacted(2, 1, "🎉", "bob"));
  assert.deepEqual(t.get(1).reactions, [{ emoji: "🎉", count: 1 }]);
  t.apply(reacted(3, 1, "🎉", "carol"));
  t.apply(reacted(3, 1, "🎉", "carol"));
  assert.deepEqual(t.get(1).reactions, [{ emoji: "🎉", count: 2 }]);
  assert.deepEqual(t.get(1).my_reactions, ["🎉"]);
});

test("an event that arrives while history loads is applied on top of it", () => {
  const t = new Timeline(conv, "bob");
  // The socket delivers a reaction on a message the page has not loaded yet …
  t.apply(reacted(5, 1, "👍", "alice"));
  assert.equal(t.get(1), undefined);
  // … then history as of seq 4 arrives: the reaction is not lost.
  t.merge([message(1, "alice", "hello")], 4);
  assert.deepEqual(t.get(1).reactions, [{ emoji: "👍", count: 1 }]);
});

test("a reply counts once on its root, from the send's answer and its event alike", () => {
  const t = new Timeline(conv, "bob");
  t.merge([message(1, "alice", "root")], 1);
  const reply = message(2, "bob", "a reply", { reply_to_seq: 1 });
  t.add(reply);
  t.apply(created(reply));
  assert.equal(t.get(1).reply_count, 1);
  assert.deepEqual(t.roots().map((m) => m.seq), [1]);
  assert.deepEqual(t.replies(1).map((m) => m.body), ["a reply"]);
  t.apply(deleted(3, reply));
  t.apply(deleted(3, reply));
  assert.equal(t.get(1).reply_count, 0);
});

test("the sidebar counts unread messages once, and not those read where they arrived", () => {
  const inbox = new Inbox("bob");
  inbox.load([{ id: conv, type: "group", title: "Launch", created_by: "alice", created_at: at, updated_at: at, last_seq: 1, member_count: 2, last_read_seq: 0, unread_count: 1, unread_mention_count: 0, muted: false }]);
  const second = message(2, "alice", "second");
  // seq 1 is counted by the list already; seq 2 comes twice (live, then replayed).
  assert.equal(inbox.apply(created(message(1, "alice", "first")), false), true);
  inbox.apply(created(second), false);
  inbox.apply(created(second), false);
  assert.equal(inbox.get(conv).unread_count, 2);
  inbox.apply(created(message(3, "bob", "mine")), false);
  assert.equal(inbox.get(conv).unread_count, 2, "one's own messages are never unread");
  inbox.apply(deleted(4, second), false);
  assert.equal(inbox.get(conv).unread_count, 1, "a deleted unread message no longer counts");
  inbox.apply(created(message(5, "alice", "seen")), true);
  assert.equal(inbox.get(conv).unread_count, 1, "a message arriving in the open conversation is read");
  inbox.markRead(conv, 5);
  assert.equal(inbox.get(conv).unread_count, 0);
  // A list fetched before the server heard of that read does not bring the count back.
  inbox.load([{ ...inbox.get(conv), last_read_seq: 0, unread_count: 3 }]);
  assert.equal(inbox.get(conv).unread_count, 0);
});

test("events of a conversation the sidebar has not listed yet wait for the list", () => {
  const inbox = new Inbox("bob");
  assert.equal(inbox.apply(created(message(1, "alice", "hi")), false), false, "the page must reload the list");
  inbox.load([{ id: conv, type: "direct", created_by: "alice", created_at: at, updated_at: at, last_seq: 0, member_count: 2, last_read_seq: 0, unread_count: 0, unread_mention_count: 0, muted: false }]);
  assert.equal(inbox.get(conv).unread_count, 1);
  assert.equal(inbox.get(conv).last_message.body, "hi");
});
