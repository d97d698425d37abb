import type { Event, EventPage } from "./types.js";

/** PageEvents reads one page of a conversation's event log after a seq. */
export type PageEvents = (conversationId: string, afterSeq: number, signal: AbortSignal) => Promise<EventPage>;

export interface SequencerOptions {
  /** Hands an event to the application: each once, in seq order per conversation. */
  deliver(event: Event): void;
  /** Records a conversation's new cursor (the CursorStore). */
  persist(conversationId: string, seq: number): void;
  page: PageEvents;
  /**
   * Paging failed or the log did not fill a gap. With `reconnect` what is missing can come from a
   * new connection's resume, so the socket reconnects; without it reconnecting would not help
   * (the caller is no longer a member) and the conversation is left as it is.
   */
  fault(err: unknown, reconnect: boolean): void;
}

/** A conversation being paged from the log, and the live events that arrived meanwhile. */
interface Catchup {
  held: Event[];
  abort: AbortController;
}

/** The rounds of paging a catch-up makes before it gives up on a gap the log does not fill. */
const maxCatchupRounds = 3;

/**
 * Sequencer keeps a cursor per conversation and passes on every event exactly once, in seq order:
 * it drops what it has seen, and where seqs jump (a resync, or a gap the server should never
 * leave) it pages the event log and holds the conversation's live events until the log has
 * caught up.
 */
export class Sequencer {
  private readonly cursors = new Map<string, number>();
  private readonly catchups = new Map<string, Catchup>();

  constructor(private readonly opts: SequencerOptions) {}

  /** The cursors to resume with. */
  snapshot(): Record<string, number> {
    return Object.fromEntries(this.cursors);
  }

  cursor(conversationId: string): number | undefined {
    return this.cursors.get(conversationId);
  }

  /** load merges stored cursors in; a cursor never moves back. */
  load(cursors: Record<string, number>): void {
    for (const [id, seq] of Object.entries(cursors)) {
      if (Number.isSafeInteger(seq) && seq >= 0 && seq > (this.cursors.get(id) ?? -1)) {
        this.cursors.set(id, seq);
      }
    }
  }

  /** track starts following a conversation from afterSeq, unless it is followed already. */
  track(conversationId: string, afterSeq: number): boolean {
    if (this.cursors.has(conversationId)) {
      return false;
    }
    this.advance(conversationId, afterSeq);
    return true;
  }

  /** offer takes an event from the socket (replayed or live). */
  offer(event: Event): void {
    const id = event.conversation_id;
    const catchup = this.catchups.get(id);
    if (catchup) {
      catchup.held.push(event);
      return;
    }
    const cursor = this.cursors.get(id);
    if (cursor === undefined || event.seq === cursor + 1) {
      this.pass(event);
    } else if (event.seq > cursor + 1) {
      // Never sent out of order: the events between come from the log first.
      this.catchUp(id, [event]);
    } // else: seen already
  }

  /** resync pages a conversation's log after afterSeq, as the server asked. */
  resync(conversationId: string, afterSeq: number): void {
    if (this.catchups.has(conversationId)) {
      return; // the running catch-up pages to the end of the log
    }
    this.track(conversationId, afterSeq);
    this.catchUp(conversationId, []);
  }

  /** reset stops every catch-up: the connection is gone, and the next resume brings the rest. */
  reset(): void {
    for (const catchup of this.catchups.values()) {
      catchup.abort.abort();
    }
    this.catchups.clear();
  }

  /** catchingUp says whether a conversation is being paged. */
  catchingUp(conversationId: string): boolean {
    return this.catchups.has(conversationId);
  }

  private catchUp(conversationId: string, held: Event[]): void {
    const catchup: Catchup = { held, abort: new AbortController() };
    this.catchups.set(conversationId, catchup);
    void this.runCatchup(conversationId, catchup);
  }

  private async runCatchup(id: string, catchup: Catchup): Promise<void> {
    const signal = catchup.abort.signal;
    try {
      for (let round = 1; ; round++) {
        await this.pageToEnd(id, signal);
        if (signal.aborted) {
          return;
        }
        // Nothing awaits from here to the end of the round: no event can slip in between.
        const held = catchup.held.sort((a, b) => a.seq - b.seq);
        catchup.held = [];
        for (const event of held) {
          if (signal.aborted) {
            return; // an event handler closed the socket
          }
          const cursor = this.cursors.get(id) ?? 0;
          if (event.seq === cursor + 1) {
            this.pass(event);
          } else if (event.seq > cursor + 1) {
            catchup.held.push(event);
          }
        }
        if (catchup.held.length === 0) {
          this.catchups.delete(id);
          return;
        }
        if (round >= maxCatchupRounds) {
          throw new Error(`conversation ${id}: the event log has no seq ${(this.cursors.get(id) ?? 0) + 1} though later ones arrived`);
        }
      }
    } catch (err) {
      if (signal.aborted) {
        return;
      }
      this.catchups.delete(id);
      this.opts.fault(err, !isGone(err));
    }
  }

  private async pageToEnd(id: string, signal: AbortSignal): Promise<void> {
    for (;;) {
      const page = await this.opts.page(id, this.cursors.get(id) ?? 0, signal);
      if (signal.aborted) {
        return;
      }
      for (const event of page.items) {
        if (signal.aborted) {
          return; // an event handler closed the socket
        }
        const cursor = this.cursors.get(id) ?? 0;
        if (event.seq === cursor + 1) {
          this.pass(event);
        } else if (event.seq > cursor + 1) {
          throw new Error(`conversation ${id}: the event log jumps from seq ${cursor} to ${event.seq}`);
        }
      }
      if (!page.has_more || page.items.length === 0) {
        return;
      }
    }
  }

  private pass(event: Event): void {
    this.advance(event.conversation_id, event.seq);
    this.opts.deliver(event);
  }

  private advance(conversationId: string, seq: number): void {
    this.cursors.set(conversationId, seq);
    this.opts.persist(conversationId, seq);
  }
}

/** isGone says a page failed because the conversation is no longer the caller's (404). */
function isGone(err: unknown): boolean {
  return typeof err === "object" && err !== null && (err as { status?: unknown }).status === 404;
}
