import { unwrap, type Message } from "./client.ts";
import type { Ctx } from "./context.ts";
import type { MessageActions } from "./message-view.ts";

// messageActions are the writes a message offers. Their results come back as events, which
// redraw the message: the page shows what the server has, not what it hoped for.
export function messageActions(ctx: Ctx, conversationId: string, openThread?: (m: Message) => void): MessageActions {
  const path = (m: Message) => ({ conversation_id: conversationId, seq: m.seq });
  return {
    me: ctx.me,
    openThread,
    react(m, emoji) {
      const mine = (m.my_reactions ?? []).includes(emoji);
      const params = { params: { path: { ...path(m), emoji } } };
      const req = mine
        ? ctx.api.DELETE("/v1/conversations/{conversation_id}/messages/{seq}/reactions/{emoji}", params)
        : ctx.api.PUT("/v1/conversations/{conversation_id}/messages/{seq}/reactions/{emoji}", params);
      unwrap(req).catch((err) => ctx.fail("React", err));
    },
    edit(m, body) {
      unwrap(ctx.api.PATCH("/v1/conversations/{conversation_id}/messages/{seq}", { params: { path: path(m) }, body: { body } }))
        .catch((err) => ctx.fail("Edit", err));
    },
    remove(m) {
      unwrap(ctx.api.DELETE("/v1/conversations/{conversation_id}/messages/{seq}", { params: { path: path(m) } }))
        .catch((err) => ctx.fail("Delete", err));
    },
  };
}

// send posts a message (a reply when replyTo is set).
export async function send(ctx: Ctx, conversationId: string, body: string, clientMsgId: string, replyTo?: number): Promise<Message> {
  return unwrap(ctx.api.POST("/v1/conversations/{conversation_id}/messages", {
    params: { path: { conversation_id: conversationId } },
    body: { client_msg_id: clientMsgId, body, ...(replyTo ? { reply_to_seq: replyTo } : {}) },
  }));
}

// markRead tells the server the user has read the conversation up to seq.
export async function markRead(ctx: Ctx, conversationId: string, seq: number): Promise<void> {
  await unwrap(ctx.api.PUT("/v1/conversations/{conversation_id}/read", { params: { path: { conversation_id: conversationId } }, body: { seq } }));
}
