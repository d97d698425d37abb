import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { LocalStorageCursorStore, MemoryCursorStore, type KeyValueStorage } from "@parley/client";

class MapStorage implements KeyValueStorage {
  readonly items = new Map<string, string>();
  getItem(key: string): string | null {
    return this.items.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.items.set(key, value);
  }
}

describe("cursor stores", () => {
  it("MemoryCursorStore keeps what it was given", () => {
    const store = new MemoryCursorStore({ a: 1 });
    store.set("b", 4);
    store.set("a", 2);
    assert.deepEqual(store.get(), { a: 2, b: 4 });
  });

  it("LocalStorageCursorStore survives a new store over the same storage (a reload)", () => {
    const storage = new MapStorage();
    const first = new LocalStorageCursorStore("parley.cursors", storage);
    first.set("a", 3);
    first.set("b", 1);
    const second = new LocalStorageCursorStore("parley.cursors", storage);
    assert.deepEqual(second.get(), { a: 3, b: 1 });
  });

  it("LocalStorageCursorStore never moves a cursor back (two tabs, one key)", () => {
    const storage = new MapStorage();
    const tab1 = new LocalStorageCursorStore("k", storage);
    const tab2 = new LocalStorageCursorStore("k", storage);
    tab1.set("a", 10);
    tab2.set("a", 7);
    assert.deepEqual(tab1.get(), { a: 10 });
  });

  it("LocalStorageCursorStore starts over from a damaged entry", () => {
    const storage = new MapStorage();
    storage.setItem("k", "{not json");
    assert.deepEqual(new LocalStorageCursorStore("k", storage).get(), {});
    storage.setItem("k", JSON.stringify({ a: 2, b: "x", c: -1 }));
    assert.deepEqual(new LocalStorageCursorStore("k", storage).get(), { a: 2 });
  });

  it("LocalStorageCursorStore without a storage in Node says what to do", () => {
    assert.throws(() => new LocalStorageCursorStore("k"), /pass a storage/);
  });
});
