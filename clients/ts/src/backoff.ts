/** How a ParleySocket waits between connection attempts. */
export interface BackoffOptions {
  /** The first wait, before jitter (default 500 ms). */
  initialMs?: number;
  /** The longest wait, before jitter (default 30 s). */
  maxMs?: number;
  /** The least wait after the server said "too many" (close 4429, or HTTP 429 at the handshake); default 10 s. */
  rateLimitedMinMs?: number;
}

export const defaultBackoff: Required<BackoffOptions> = {
  initialMs: 500,
  maxMs: 30_000,
  rateLimitedMinMs: 10_000,
};

/** resolveBackoff fills in the defaults and checks the numbers make sense. */
export function resolveBackoff(options: BackoffOptions = {}): Required<BackoffOptions> {
  const b = { ...defaultBackoff, ...dropUndefined(options) };
  if (!(b.initialMs > 0) || !(b.maxMs >= b.initialMs) || !(b.rateLimitedMinMs >= 0)) {
    throw new RangeError(`backoff: need 0 < initialMs <= maxMs and rateLimitedMinMs >= 0, got ${JSON.stringify(b)}`);
  }
  return b;
}

/**
 * reconnectDelay is the wait before attempt number `attempt` (0 for the first retry): the base
 * doubles from initialMs up to maxMs, and "equal jitter" picks the wait uniformly in
 * [base/2, base], so clients cut off together do not come back together yet never retry at once.
 * After a rate limit the wait is at least rateLimitedMinMs, jittered up to half as much again.
 */
export function reconnectDelay(
  attempt: number,
  backoff: Required<BackoffOptions>,
  rateLimited = false,
  random: () => number = Math.random,
): number {
  const exponent = Math.min(Math.max(attempt, 0), 52); // 2**52 is past any maxMs: no Infinity
  const base = Math.min(backoff.maxMs, backoff.initialMs * 2 ** exponent);
  let delay = base / 2 + (random() * base) / 2;
  if (rateLimited) {
    delay = Math.max(delay, backoff.rateLimitedMinMs * (1 + random() / 2));
  }
  return Math.round(delay);
}

function dropUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
