// The one place the page imports the Parley TypeScript client from: its source, which esbuild
// bundles into app.js.
export { createParleyClient, unwrap, ParleySocket, LocalStorageCursorStore } from "../../../clients/ts/src/index.ts";
export type { ParleyClient, Event, Message, ConversationSummary, Member, Presence } from "../../../clients/ts/src/index.ts";
