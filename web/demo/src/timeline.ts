import type { Event, Message } from "./client.ts";

// Timeline is what the page knows of the open conversation's messages: roots and the replies of
// threads it opened, keyed by seq. Each message remembers `at`, the seq of the last event its state
// reflects, so that an event is applied to it at most once however the page learnt of it — from a
// page of history (a snapshot as of some seq), from the socket, or replayed after a reconnect.
// Rendering reads the result; nothing else mutates it.
export class Timeline {
  private readonly messages = new Map<number, { msg: Message; at: number }>();
  // The events seen since the conversation was opened, to re-apply after a snapshot lands:
  // an event about a message the page did not know yet is dropped when it arrives.
  private readonly seen: Event[] = [];
  private static readonly keepEvents = 1000;
  hasOlder = false;

  constructor(readonly conversationId: string, private readonly me: string) {}

  get(seq: number): Message | undefined {
    return this.messages.get(seq)?.msg;
  }

  // roots are the messages of the main list, oldest first.
  roots(): Message[] {
    return [...this.messages.values()].map((e) => e.msg).filter((m) => m.reply_to_seq === undefined || m.reply_to_seq === null).sort((a, b) => a.seq - b.seq);
  }

  replies(root: number): Message[] {
    return [...this.messages.values()].map((e) => e.msg).filter((m) => m.reply_to_seq === root).sort((a, b) => a.seq - b.seq);
  }

  oldestRootSeq(): number | undefined {
    return this.roots()[0]?.seq;
  }

  // merge takes messages as of the conversation's seq `at` and replays the events seen since.
  // It returns the seqs whose rendering may have changed.
  merge(page: Message[], at: number): Set<number> {
    const changed = new Set<number>();
    for (const m of page) {
      const known = this.messages.get(m.seq);
      if (!known || known.at < at) {
        this.messages.set(m.seq, { msg: m, at });
        changed.add(m.seq);
      }
    }
    for (const ev of this.seen) for (const seq of this.applyOnce(ev)) changed.add(seq);
    return changed;
  }

  // add records a message the page itself just sent (its seq is that of its creation event).
  add(m: Message): Set<number> {
    if (this.messages.has(m.seq)) return new Set();
    this.messages.set(m.seq, { msg: m, at: m.seq });
    const changed = new Set([m.seq]);
    if (m.reply_to_seq) this.bumpRoot(m.reply_to_seq, m.seq, +1, m.created_at, changed);
    return changed;
  }

  apply(ev: Event): Set<number> {
    this.seen.push(ev);
    if (this.seen.length > Timeline.keepEvents) this.seen.splice(0, this.seen.length - Timeline.keepEvents);
    return this.applyOnce(ev);
  }

  private applyOnce(ev: Event): Set<number> {
    const changed = new Set<number>();
    switch (ev.type) {
      case "message.created": {
        const m = ev.message!;
        if (this.messages.has(m.seq)) break;
        // A new message joins the list; an old one the page has not loaded stays out of it.
        this.messages.set(m.seq, { msg: m, at: ev.seq });
        changed.add(m.seq);
        if (m.reply_to_seq) this.bumpRoot(m.reply_to_seq, ev.seq, +1, m.created_at, changed);
        break;
      }
      case "message.updated":
      case "message.deleted": {
        const m = ev.message!;
        const known = this.messages.get(m.seq);
        if (!known || known.at >= ev.seq) break;
        const wasDeleted = Boolean(known.msg.deleted_at);
        // Events never carry my_reactions: keep what the page knows of them.
        known.msg = { ...m, my_reactions: ev.type === "message.deleted" ? [] : known.msg.my_reactions };
        known.at = ev.seq;
        changed.add(m.seq);
        if (ev.type === "message.deleted" && !wasDeleted && m.reply_to_seq) this.bumpRoot(m.reply_to_seq, ev.seq, -1, undefined, changed);
        break;
      }
      case "reaction.added":
      case "reaction.removed": {
        const r = ev.reaction!;
        const known = this.messages.get(r.message_seq);
        if (!known || known.at >= ev.seq) break;
        known.at = ev.seq;
        known.msg = withReaction(known.msg, r.emoji, ev.type === "reaction.added" ? +1 : -1, r.user_id === this.me);
        changed.add(r.message_seq);
        break;
      }
    }
    return changed;
  }

  // bumpRoot counts a reply created (+1) or deleted (-1) on its root, once.
  private bumpRoot(rootSeq: number, evSeq: number, by: number, at: string | undefined, changed: Set<number>): void {
    const root = this.messages.get(rootSeq);
    if (!root || root.at >= evSeq) return;
    root.at = evSeq;
    root.msg = { ...root.msg, reply_count: Math.max(0, root.msg.reply_count + by), last_reply_at: at ?? root.msg.last_reply_at };
    changed.add(rootSeq);
  }
}

function withReaction(m: Message, emoji: string, by: number, mine: boolean): Message {
  const reactions = m.reactions.map((r) => ({ ...r }));
  const i = reactions.findIndex((r) => r.emoji === emoji);
  if (i >= 0) reactions[i].count += by;
  else if (by > 0) reactions.push({ emoji, count: by });
  let my = m.my_reactions ?? [];
  if (mine) my = by > 0 ? [...new Set([...my, emoji])] : my.filter((e) => e !== emoji);
  return { ...m, reactions: reactions.filter((r) => r.count > 0), my_reactions: my };
}
