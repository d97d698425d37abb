import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { reconnectDelay, resolveBackoff } from "@parley/client";

const backoff = resolveBackoff({ initialMs: 100, maxMs: 1_000, rateLimitedMinMs: 5_000 });
const lowest = () => 0;
const highest = () => 0.999999;

describe("reconnectDelay", () => {
  it("doubles from initialMs with each attempt", () => {
    const ceilings = [0, 1, 2, 3].map((attempt) => reconnectDelay(attempt, backoff, false, highest));
    assert.deepEqual(ceilings, [100, 200, 400, 800]);
  });

  it("stops growing at maxMs, even after very many attempts", () => {
    for (const attempt of [4, 10, 60, 1_000, Number.MAX_SAFE_INTEGER]) {
      assert.equal(reconnectDelay(attempt, backoff, false, highest), 1_000);
      assert.equal(reconnectDelay(attempt, backoff, false, lowest), 500);
    }
  });

  it("jitters within [base/2, base] and spreads clients out", () => {
    const seen = new Set<number>();
    for (let i = 0; i < 500; i++) {
      const d = reconnectDelay(2, backoff);
      assert.ok(d >= 200 && d <= 400, `delay ${d} outside [200, 400]`);
      seen.add(d);
    }
    assert.ok(seen.size > 50, `only ${seen.size} distinct delays in 500 draws`);
  });

  it("waits at least rateLimitedMinMs after a rate limit, jittered up to half again", () => {
    for (const attempt of [0, 3, 20]) {
      assert.equal(reconnectDelay(attempt, backoff, true, lowest), 5_000);
      assert.ok(reconnectDelay(attempt, backoff, true, highest) <= 7_500);
    }
    for (let i = 0; i < 200; i++) {
      const d = reconnectDelay(0, backoff, true);
      assert.ok(d >= 5_000 && d <= 7_500, `rate-limited delay ${d}`);
    }
  });

  it("defaults to about 500 ms, 30 s and 10 s", () => {
    const d = resolveBackoff();
    assert.deepEqual(d, { initialMs: 500, maxMs: 30_000, rateLimitedMinMs: 10_000 });
    assert.equal(reconnectDelay(0, d, false, highest), 500);
    assert.equal(reconnectDelay(99, d, false, highest), 30_000);
  });

  it("refuses settings that make no sense", () => {
    assert.throws(() => resolveBackoff({ initialMs: 0 }), RangeError);
    assert.throws(() => resolveBackoff({ initialMs: 2_000, maxMs: 1_000 }), RangeError);
    assert.throws(() => resolveBackoff({ rateLimitedMinMs: -1 }), RangeError);
  });
});
