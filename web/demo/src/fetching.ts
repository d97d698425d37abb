import { unwrap, type ConversationSummary, type Member, type Message, type ParleyClient } from "./client.ts";

// The page's reads, each of them whole (every page of the list it names).

export async function allConversations(api: ParleyClient): Promise<ConversationSummary[]> {
  const items: ConversationSummary[] = [];
  let cursor: string | undefined;
  do {
    const page = await unwrap(api.GET("/v1/conversations", { params: { query: { limit: 100, ...(cursor ? { cursor } : {}) } } }));
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return items;
}

export async function members(api: ParleyClient, conversationId: string): Promise<Member[]> {
  const list = await unwrap(api.GET("/v1/conversations/{conversation_id}/members", { params: { path: { conversation_id: conversationId } } }));
  return list.items;
}

export async function lastSeq(api: ParleyClient, conversationId: string): Promise<number> {
  const conv = await unwrap(api.GET("/v1/conversations/{conversation_id}", { params: { path: { conversation_id: conversationId } } }));
  return conv.last_seq;
}

// asOf runs a read between two looks at the conversation's last seq and returns it with the seq
// it is exactly as of: when both looks agree, no event happened during the read. Under a steady
// stream of changes it settles for the first look after a few tries.
export async function asOf<T>(api: ParleyClient, conversationId: string, read: () => Promise<T>): Promise<{ value: T; at: number }> {
  for (let attempt = 1; ; attempt++) {
    const before = await lastSeq(api, conversationId);
    const value = await read();
    const after = await lastSeq(api, conversationId);
    if (before === after || attempt === 5) return { value, at: before };
  }
}

// roots is the latest page of the main list (replies live in their threads), or the page
// before `beforeSeq`.
export async function roots(api: ParleyClient, conversationId: string, beforeSeq?: number): Promise<{ items: Message[]; has_more: boolean }> {
  return unwrap(api.GET("/v1/conversations/{conversation_id}/messages", {
    params: { path: { conversation_id: conversationId }, query: { roots_only: true, limit: 50, ...(beforeSeq ? { before_seq: beforeSeq } : {}) } },
  }));
}

export async function allReplies(api: ParleyClient, conversationId: string, rootSeq: number): Promise<Message[]> {
  const items: Message[] = [];
  let after = 0;
  for (;;) {
    const page = await unwrap(api.GET("/v1/conversations/{conversation_id}/messages/{seq}/replies", {
      params: { path: { conversation_id: conversationId, seq: rootSeq }, query: { after_seq: after, limit: 200 } },
    }));
    items.push(...page.items);
    if (!page.has_more || page.items.length === 0) return items;
    after = page.items[page.items.length - 1].seq;
  }
}
