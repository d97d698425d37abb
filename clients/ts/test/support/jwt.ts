import { createHmac, randomBytes } from "node:crypto";

/** A fresh HS256 secret for one test server. */
export function newSecret(): string {
  return randomBytes(32).toString("hex");
}

/** mintToken signs an HS256 JWT for user sub, valid for ttlSeconds (negative: expired). */
export function mintToken(secret: string, sub: string, ttlSeconds = 3600): string {
  const now = Math.floor(Date.now() / 1000);
  const header = b64url(JSON.stringify({ alg: "HS256", typ: "JWT" }));
  const payload = b64url(JSON.stringify({ sub, iat: now, exp: now + ttlSeconds }));
  const signature = createHmac("sha256", secret).update(`${header}.${payload}`).digest("base64url");
  return `${header}.${payload}.${signature}`;
}

function b64url(text: string): string {
  return Buffer.from(text, "utf8").toString("base64url");
}
