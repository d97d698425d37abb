// Every route of the HTTP API once, through the typed client, against a real Parley.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";

import { createParleyClient, isProblem, ParleyError, unwrap, type Middleware, type ParleyClient } from "@parley/client";

import { ParleyServer, removeBuild } from "./support/server.js";

let server: ParleyServer;
/** "METHOD /path/{param}" of every request made through the clients below. */
const called = new Set<string>();
const recordRoute: Middleware = {
  onRequest({ request, schemaPath }) {
    called.add(`${request.method} ${schemaPath}`);
  },
};

function client(user: string): ParleyClient {
  const api = createParleyClient({ baseUrl: server.baseUrl, token: server.token(user) });
  api.use(recordRoute);
  return api;
}

before(async () => {
  server = await ParleyServer.start();
});
after(async () => {
  await server?.close();
  await removeBuild();
});

describe("the typed client against Parley", () => {
  it("answers every route, typed", async () => {
    const alice = client("alice");
    const bob = client("bob");

    assert.deepEqual(await unwrap(alice.GET("/v1/me")), { user_id: "alice" });

    // Conversations.
    const created = await alice.POST("/v1/conversations", { body: { type: "group", title: "Launch", member_ids: ["bob"] } });
    assert.equal(created.response.status, 201);
    const conv = created.data!;
    assert.equal(conv.type, "group");
    assert.equal(conv.title, "Launch");
    assert.equal(conv.created_by, "alice");
    assert.equal(conv.member_count, 2);
    const path = { conversation_id: conv.id };

    const direct = await unwrap(alice.POST("/v1/conversations", { body: { type: "direct", member_ids: ["carol"] } }));
    const again = await alice.POST("/v1/conversations", { body: { type: "direct", member_ids: ["carol"] } });
    assert.equal(again.response.status, 200, "the same direct conversation is returned, not created twice");
    assert.equal(again.data?.id, direct.id);

    assert.equal((await unwrap(bob.GET("/v1/conversations/{conversation_id}", { params: { path } }))).id, conv.id);
    const renamed = await unwrap(alice.PATCH("/v1/conversations/{conversation_id}", { params: { path }, body: { title: "Launch v2" } }));
    assert.equal(renamed.title, "Launch v2");

    // Members.
    const dave = await alice.POST("/v1/conversations/{conversation_id}/members", { params: { path }, body: { user_id: "dave", role: "admin" } });
    assert.equal(dave.response.status, 201);
    assert.equal(dave.data?.role, "admin");
    const members = await unwrap(alice.GET("/v1/conversations/{conversation_id}/members", { params: { path } }));
    assert.deepEqual(
      members.items.map((m) => [m.user_id, m.role]),
      [
        ["alice", "owner"],
        ["bob", "member"],
        ["dave", "admin"],
      ],
    );
    const removed = await alice.DELETE("/v1/conversations/{conversation_id}/members/{user_id}", { params: { path: { ...path, user_id: "dave" } } });
    assert.equal(removed.response.status, 204);

    // Messages.
    const first = await alice.POST("/v1/conversations/{conversation_id}/messages", { params: { path }, body: { client_msg_id: "m1", body: "Hello, team" } });
    assert.equal(first.response.status, 201);
    const root = first.data!;
    assert.equal(root.body, "Hello, team");
    assert.equal(root.sender_id, "alice");
    const repeat = await alice.POST("/v1/conversations/{conversation_id}/messages", { params: { path }, body: { client_msg_id: "m1", body: "Hello, team" } });
    assert.equal(repeat.response.status, 200, "a repeated client_msg_id returns the first message");
    assert.equal(repeat.data?.id, root.id);
    const reply = await unwrap(
      bob.POST("/v1/conversations/{conversation_id}/messages", {
        params: { path },
        body: { client_msg_id: "m2", body: "@alice the launch plan is ready", reply_to_seq: root.seq, mentions: ["alice"] },
      }),
    );
    assert.equal(reply.reply_to_seq, root.seq);
    assert.deepEqual(reply.mentions, ["alice"]);

    const page = await unwrap(alice.GET("/v1/conversations/{conversation_id}/messages", { params: { path, query: { limit: 10 } } }));
    assert.deepEqual(
      page.items.map((m) => m.body),
      ["Hello, team", "@alice the launch plan is ready"],
    );
    assert.equal(page.has_more, false);
    const roots = await unwrap(alice.GET("/v1/conversations/{conversation_id}/messages", { params: { path, query: { roots_only: true } } }));
    assert.deepEqual(
      roots.items.map((m) => m.seq),
      [root.seq],
    );
    const replies = await unwrap(alice.GET("/v1/conversations/{conversation_id}/messages/{seq}/replies", { params: { path: { ...path, seq: root.seq } } }));
    assert.deepEqual(
      replies.items.map((m) => m.id),
      [reply.id],
    );

    const edited = await unwrap(
      alice.PATCH("/v1/conversations/{conversation_id}/messages/{seq}", { params: { path: { ...path, seq: root.seq } }, body: { body: "Hello, everyone" } }),
    );
    assert.equal(edited.body, "Hello, everyone");
    assert.ok(edited.edited_at);

    // Reactions (the emoji is percent-encoded in the path).
    const msg = { ...path, seq: root.seq };
    const put = await bob.PUT("/v1/conversations/{conversation_id}/messages/{seq}/reactions/{emoji}", { params: { path: { ...msg, emoji: "👍" } } });
    assert.equal(put.response.status, 204);
    await unwrap(alice.PUT("/v1/conversations/{conversation_id}/messages/{seq}/reactions/{emoji}", { params: { path: { ...msg, emoji: ":parrot:" } } }));
    const reactors = await unwrap(alice.GET("/v1/conversations/{conversation_id}/messages/{seq}/reactions/{emoji}", { params: { path: { ...msg, emoji: "👍" } } }));
    assert.deepEqual(
      reactors.items.map((r) => r.user_id),
      ["bob"],
    );
    const withReactions = await unwrap(alice.GET("/v1/conversations/{conversation_id}/messages", { params: { path, query: { after_seq: root.seq - 1, limit: 1 } } }));
    assert.deepEqual(withReactions.items[0]?.reactions, [
      { emoji: "👍", count: 1 },
      { emoji: ":parrot:", count: 1 },
    ]);
    assert.deepEqual(withReactions.items[0]?.my_reactions, [":parrot:"]);
    const unreact = await bob.DELETE("/v1/conversations/{conversation_id}/messages/{seq}/reactions/{emoji}", { params: { path: { ...msg, emoji: "👍" } } });
    assert.equal(unreact.response.status, 204);

    // Read position, settings, the conversation list.
    const read = await unwrap(bob.PUT("/v1/conversations/{conversation_id}/read", { params: { path }, body: { seq: root.seq } }));
    assert.equal(read.last_read_seq, root.seq);
    const back = await unwrap(bob.PUT("/v1/conversations/{conversation_id}/read", { params: { path }, body: { seq: 0 } }));
    assert.equal(back.last_read_seq, root.seq, "the read position never moves back");
    assert.deepEqual(await unwrap(bob.PUT("/v1/conversations/{conversation_id}/settings", { params: { path }, body: { muted: true } })), { muted: true });
    const list = await unwrap(bob.GET("/v1/conversations", { params: { query: { limit: 10 } } }));
    const summary = list.items.find((c) => c.id === conv.id);
    assert.ok(summary, "bob's list holds the conversation");
    assert.equal(summary.muted, true);
    assert.equal(summary.last_read_seq, root.seq);
    assert.equal(summary.last_message?.id, reply.id);

    // Search.
    const hits = await unwrap(alice.GET("/v1/messages/search", { params: { query: { q: "launch plan", conversation_id: conv.id } } }));
    assert.deepEqual(
      hits.items.map((h) => h.message.id),
      [reply.id],
    );
    assert.match(hits.items[0]!.snippet, /<mark>launch<\/mark>/);

    // Delete (tombstone), then the event log tells the whole story in order.
    const deleted = await bob.DELETE("/v1/conversations/{conversation_id}/messages/{seq}", { params: { path: { ...path, seq: reply.seq } } });
    assert.equal(deleted.response.status, 204);
    const events = await unwrap(alice.GET("/v1/conversations/{conversation_id}/events", { params: { path, query: { after_seq: 0, limit: 200 } } }));
    assert.deepEqual(
      events.items.map((e) => e.type),
      ["conversation.updated", "member.added", "member.removed", "message.created", "message.created", "message.updated", "reaction.added", "reaction.added", "reaction.removed", "message.deleted"],
    );
    assert.deepEqual(
      events.items.map((e) => e.seq),
      events.items.map((_, i) => i + 1),
    );

    // Blocks.
    assert.equal((await alice.PUT("/v1/me/blocks/{user_id}", { params: { path: { user_id: "mallory" } } })).response.status, 204);
    assert.deepEqual(
      (await unwrap(alice.GET("/v1/me/blocks"))).items.map((b) => b.user_id),
      ["mallory"],
    );
    assert.equal((await alice.DELETE("/v1/me/blocks/{user_id}", { params: { path: { user_id: "mallory" } } })).response.status, 204);
    assert.deepEqual((await unwrap(alice.GET("/v1/me/blocks"))).items, []);

    // Presence: user_ids go comma separated; a stranger reads as offline.
    const presence = await unwrap(alice.GET("/v1/presence", { params: { query: { user_ids: ["bob", "stranger"] } } }));
    assert.deepEqual(
      presence.items.map((p) => [p.user_id, p.status]),
      [
        ["bob", "offline"],
        ["stranger", "offline"],
      ],
    );

    // Operations.
    assert.equal((await unwrap(alice.GET("/healthz"))).status, "ok");
    assert.equal((await unwrap(alice.GET("/livez"))).status, "ok");
    const ready = await unwrap(alice.GET("/readyz"));
    assert.equal(ready.status, "ok");
    assert.equal(ready.checks?.postgres, "ok");
    const spec = await unwrap(alice.GET("/openapi.json"));
    assert.equal((spec.info as { title?: string }).title, "Parley API");
    const metrics = await alice.GET("/metrics", { parseAs: "text" });
    assert.match(metrics.data ?? "", /# TYPE /);
  });

  it("answers refusals as typed problems", async () => {
    const alice = client("alice");
    const missing = await alice.GET("/v1/conversations/{conversation_id}", { params: { path: { conversation_id: randomUUID() } } });
    assert.equal(missing.response.status, 404);
    assert.equal(missing.response.headers.get("content-type"), "application/problem+json");
    assert.ok(isProblem(missing.error));
    assert.equal(missing.error.code, "conversation_not_found");
    assert.equal(missing.error.status, 404);

    const conv = await unwrap(alice.POST("/v1/conversations", { body: { type: "group", title: "Problems", member_ids: [] } }));
    const bad = await alice.POST("/v1/conversations/{conversation_id}/messages", {
      params: { path: { conversation_id: conv.id } },
      body: { client_msg_id: "x", body: "" },
    });
    assert.equal(bad.response.status, 400);
    assert.ok(isProblem(bad.error));
    assert.ok(bad.error.errors?.some((e) => e.field === "body"), JSON.stringify(bad.error));

    // unwrap throws them as ParleyError.
    const err = await unwrap(client("stranger").GET("/v1/conversations/{conversation_id}", { params: { path: { conversation_id: conv.id } } })).then(
      () => assert.fail("a non-member read the conversation"),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ParleyError);
    assert.equal(err.status, 404, "a non-member is told it does not exist");
    assert.equal(err.code, "conversation_not_found");

    // No token, and an expired one: 401 with a Bearer challenge.
    const anonymous = createParleyClient({ baseUrl: server.baseUrl, token: "" });
    const unauthorized = await anonymous.GET("/v1/me");
    assert.equal(unauthorized.response.status, 401);
    assert.match(unauthorized.response.headers.get("www-authenticate") ?? "", /^Bearer/);
    const expired = await createParleyClient({ baseUrl: server.baseUrl, token: server.token("alice", -120) }).GET("/v1/me");
    assert.equal(expired.response.status, 401);
    assert.ok(isProblem(expired.error));
    assert.equal(expired.error.code, "token_expired");
  });

  it("asks a token function before each request", async () => {
    let asked = 0;
    const api = createParleyClient({
      baseUrl: server.baseUrl,
      token: async () => {
        asked++;
        return server.token(`user${asked}`);
      },
    });
    assert.equal((await unwrap(api.GET("/v1/me"))).user_id, "user1");
    assert.equal((await unwrap(api.GET("/v1/me"))).user_id, "user2");
  });

  it("covered every operation of the document", async () => {
    const spec = (await (await fetch(`${server.baseUrl}/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    const all = Object.entries(spec.paths).flatMap(([p, ops]) =>
      Object.keys(ops)
        .filter((m) => ["get", "put", "post", "patch", "delete"].includes(m))
        .map((m) => `${m.toUpperCase()} ${p}`),
    );
    // The WebSocket upgrade is ParleySocket's, tested in the socket suites.
    const missed = all.filter((route) => route !== "GET /v1/ws" && !called.has(route));
    assert.deepEqual(missed, []);
  });
});
