import type { ParleyClient, ParleySocket } from "./client.ts";

// Ctx is what the views share: the signed-in user, the HTTP client, the socket, the presence the
// socket reports, and a place to show a failure.
export interface Ctx {
  me: string;
  api: ParleyClient;
  sock: ParleySocket;
  presence: Map<string, boolean>;
  fail(what: string, err: unknown): void;
}
