// Helpers shared by the tests that send messages while a socket's connection suffers.
import { createParleyClient, ParleySocket, unwrap, type Event, type ParleyClient } from "@parley/client";
import WebSocket from "ws";

/**
 * sendMessages sends messages from..to ("message <i>") one after another, retrying each with the
 * same client_msg_id until it is stored.
 */
export async function sendMessages(
  api: ParleyClient,
  conversationId: string,
  [from, to]: [number, number],
  onSent: (i: number) => void | Promise<void> = () => {},
): Promise<void> {
  for (let i = from; i <= to; i++) {
    const body = { client_msg_id: `msg-${i}`, body: `message ${i}` };
    for (let tries = 0; ; tries++) {
      try {
        const { response } = await api.POST("/v1/conversations/{conversation_id}/messages", { params: { path: { conversation_id: conversationId } }, body });
        if (response.ok) {
          break;
        }
        if (response.status < 500) {
          throw new Error(`send ${i}: HTTP ${response.status}`);
        }
      } catch (err) {
        if (err instanceof Error && err.message.startsWith("send ")) {
          throw err;
        }
        // The server is restarting: the same client_msg_id makes the retry safe.
      }
      if (tries > 500) {
        throw new Error(`send ${i}: the server did not come back`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await onSent(i);
  }
}

/** groupOf creates a group of owner and members and returns its id and last seq. */
export async function groupOf(api: ParleyClient, members: string[]): Promise<{ id: string; lastSeq: number }> {
  const conv = await unwrap(api.POST("/v1/conversations", { body: { type: "group", title: "Resume test", member_ids: members } }));
  return { id: conv.id, lastSeq: conv.last_seq };
}

/** A socket for a test, with everything it handed on recorded. */
export function recordingSocket(options: { baseUrl: string; token: string; api?: ParleyClient; pageSize?: number; connectTimeoutMs?: number }) {
  const socket = new ParleySocket({
    ...options,
    WebSocket,
    backoff: { initialMs: 50, maxMs: 400, rateLimitedMinMs: 400 },
  });
  const events: Event[] = [];
  const closes: number[] = [];
  const closeReasons: string[] = [];
  const errors: unknown[] = [];
  let readies = 0;
  let resumes = 0;
  socket.on("event", (e) => events.push(e));
  socket.on("close", (c) => {
    closes.push(c.code);
    closeReasons.push(c.reason);
  });
  socket.on("ready", () => readies++);
  socket.on("resumed", () => resumes++);
  socket.on("clientError", (e) => errors.push(e));
  return {
    socket,
    events,
    closes,
    closeReasons,
    errors,
    readies: () => readies,
    resumes: () => resumes,
    /** seqs of conversationId in the order handed on. */
    seqs: (conversationId: string) => events.filter((e) => e.conversation_id === conversationId).map((e) => e.seq),
  };
}

export function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
}

export { createParleyClient };
