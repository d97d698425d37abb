import type { ConversationSummary, Event } from "./client.ts";

// Inbox is the sidebar's model: the user's conversations with their unread counts, kept current
// from events. A summary's last_seq is the seq its numbers are as of, so an event at or below it
// is already counted and is skipped: replays and resyncs cannot count a message twice.
export class Inbox {
  private readonly items = new Map<string, ConversationSummary>();
  // Events of conversations the page has not listed yet (one just joined): applied once the
  // list that names them has loaded.
  private readonly pending: Event[] = [];

  constructor(private readonly me: string) {}

  get(id: string): ConversationSummary | undefined {
    return this.items.get(id);
  }

  // list orders conversations by latest activity, as the API does.
  list(): ConversationSummary[] {
    return [...this.items.values()].sort((a, b) => activity(b).localeCompare(activity(a)));
  }

  // load replaces the list with a fresh one from the API, then applies the events held back.
  load(summaries: ConversationSummary[]): void {
    for (const s of summaries) {
      const known = this.items.get(s.id);
      if (known && known.last_seq > s.last_seq) continue; // the events are ahead of the list
      // The user read it all here and the server has not heard yet: it stays read.
      const readHere = known !== undefined && known.last_read_seq >= s.last_seq && s.unread_count > 0;
      this.items.set(s.id, readHere ? { ...s, last_read_seq: known.last_read_seq, unread_count: 0, unread_mention_count: 0 } : s);
    }
    // Held events of a conversation still missing are dropped: the list that follows the reload
    // they asked for counts them.
    for (const ev of this.pending.splice(0)) if (this.items.has(ev.conversation_id)) this.apply(ev, false);
  }

  // apply counts an event; `viewing` says the user has the conversation open in front of them,
  // so a message in it is read, not unread. It returns false when the conversation is unknown and
  // the list needs reloading.
  apply(ev: Event, viewing: boolean): boolean {
    const s = this.items.get(ev.conversation_id);
    if (!s) {
      this.pending.push(ev);
      return false;
    }
    if (ev.seq <= s.last_seq) return true;
    const next: ConversationSummary = { ...s, last_seq: ev.seq, updated_at: ev.created_at };
    switch (ev.type) {
      case "message.created": {
        const m = ev.message!;
        next.last_message = m;
        if (m.sender_id === this.me) break; // one's own messages are never unread
        if (viewing) next.last_read_seq = Math.max(next.last_read_seq, m.seq);
        else {
          next.unread_count += 1;
          if (m.mentions.includes(this.me)) next.unread_mention_count += 1;
        }
        break;
      }
      case "message.updated":
        if (next.last_message?.seq === ev.message!.seq) next.last_message = ev.message;
        break;
      case "message.deleted": {
        const m = ev.message!;
        if (next.last_message?.seq === m.seq) next.last_message = m;
        // A deleted message from someone else that was still unread no longer counts.
        if (m.sender_id !== this.me && m.seq > next.last_read_seq && next.unread_count > 0) next.unread_count -= 1;
        break;
      }
      case "conversation.updated":
        if (ev.conversation) Object.assign(next, { title: ev.conversation.title, member_count: ev.conversation.member_count });
        break;
      case "member.added":
        next.member_count += 1;
        break;
      case "member.removed":
        if (ev.member?.user_id === this.me) {
          this.items.delete(s.id);
          return true;
        }
        next.member_count = Math.max(0, next.member_count - 1);
        break;
    }
    this.items.set(s.id, next);
    return true;
  }

  // markRead records that the user has read up to seq (from this page or another of theirs).
  markRead(id: string, seq: number): void {
    const s = this.items.get(id);
    if (!s) return;
    // Read up to the latest event: nothing is unread. Short of it, the count stays as it is:
    // which messages lie between is not known here (the next list fetch corrects it).
    const all = seq >= s.last_seq;
    this.items.set(id, {
      ...s,
      last_read_seq: Math.max(s.last_read_seq, seq),
      unread_count: all ? 0 : s.unread_count,
      unread_mention_count: all ? 0 : s.unread_mention_count,
    });
  }
}

function activity(s: ConversationSummary): string {
  return s.last_message?.created_at ?? s.updated_at;
}
