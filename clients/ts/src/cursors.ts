/**
 * A CursorStore keeps, per conversation, the seq of the last event the application received, so
 * that a socket (even one in a new page load) resumes where the last one stopped.
 */
export interface CursorStore {
  get(): Record<string, number> | Promise<Record<string, number>>;
  set(conversationId: string, seq: number): void | Promise<void>;
}

/** MemoryCursorStore keeps cursors for as long as the process runs. */
export class MemoryCursorStore implements CursorStore {
  private readonly cursors = new Map<string, number>();

  constructor(initial: Record<string, number> = {}) {
    for (const [id, seq] of Object.entries(initial)) {
      this.cursors.set(id, seq);
    }
  }

  get(): Record<string, number> {
    return Object.fromEntries(this.cursors);
  }

  set(conversationId: string, seq: number): void {
    this.cursors.set(conversationId, seq);
  }
}

/** The part of the Web Storage API a LocalStorageCursorStore uses. */
export interface KeyValueStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

/**
 * LocalStorageCursorStore keeps cursors as one JSON object under key, in localStorage by default,
 * so a reloaded page resumes instead of starting over.
 */
export class LocalStorageCursorStore implements CursorStore {
  private readonly storage: KeyValueStorage;

  constructor(
    private readonly key: string,
    storage?: KeyValueStorage,
  ) {
    const chosen = storage ?? (globalThis as { localStorage?: KeyValueStorage }).localStorage;
    if (!chosen) {
      throw new Error("LocalStorageCursorStore: no localStorage here; pass a storage");
    }
    this.storage = chosen;
  }

  get(): Record<string, number> {
    const raw = this.storage.getItem(this.key);
    if (raw === null) {
      return {};
    }
    try {
      const parsed: unknown = JSON.parse(raw);
      const cursors: Record<string, number> = {};
      if (typeof parsed === "object" && parsed !== null) {
        for (const [id, seq] of Object.entries(parsed)) {
          if (Number.isSafeInteger(seq) && (seq as number) >= 0) {
            cursors[id] = seq as number;
          }
        }
      }
      return cursors;
    } catch {
      return {}; // a damaged entry starts over rather than stopping the socket
    }
  }

  // set reads the stored object afresh and never moves a cursor back: other tabs may share the
  // key, and one with an older view must not undo what another received.
  set(conversationId: string, seq: number): void {
    const cursors = this.get();
    cursors[conversationId] = Math.max(cursors[conversationId] ?? 0, seq);
    this.storage.setItem(this.key, JSON.stringify(cursors));
  }
}
