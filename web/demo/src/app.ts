import { createParleyClient, LocalStorageCursorStore, ParleySocket, type ConversationSummary, type Event, type ParleyClient } from "./client.ts";
import type { Ctx } from "./context.ts";
import { markRead } from "./actions.ts";
import { ConversationView } from "./conversation-view.ts";
import { avatar, fill, h } from "./dom.ts";
import { allConversations } from "./fetching.ts";
import { Inbox } from "./inbox.ts";
import { Sidebar } from "./sidebar.ts";
import { requestToken } from "./signin.ts";

// What the connection indicator says in each socket state.
const stateLabels: Record<string, string> = {
  idle: "Not connected",
  connecting: "Connecting…",
  open: "Connected",
  reconnecting: "Reconnecting…",
  unauthorized: "Signing in again…",
  closed: "Disconnected",
};

// How soon a message that arrives in the open conversation is marked read.
const readDelay = 300;

// App is the signed-in page: it owns the socket, the inbox and the views, routes the socket's
// frames to them, and keeps the server told what the user has read. stop() undoes start().
export class App {
  private readonly ctx: Ctx;
  private readonly inbox: Inbox;
  private readonly sidebar: Sidebar;
  private readonly status = h("span", { class: "status", "data-testid": "connection", "data-state": "idle" }, stateLabels.idle);
  private readonly toast = h("div", { class: "toast", "data-testid": "error", role: "alert", hidden: true });
  private readonly main = h("main", { class: "main" }, h("div", { class: "placeholder" }, "Pick a conversation, or start one."));
  private view?: ConversationView;
  private token: string;
  // The socket and the HTTP client ask for the token before each use: a renewed one is used at once.
  private readonly tokenSource = () => this.token;
  // The read position last sent per conversation, so that one is not sent twice.
  private readonly toldRead = new Map<string, number>();
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private readTimer?: ReturnType<typeof setTimeout>;
  private reloading?: Promise<void>;
  private reloadAgain = false;
  private refreshingToken = false;
  private readonly offs: (() => void)[] = [];
  private readonly sockOffs: (() => void)[] = [];
  private sock: ParleySocket;
  private presenceIds?: string[];
  private wasOpen = false;

  constructor(private readonly root: HTMLElement, me: string, token: string, private readonly signOut: () => void) {
    this.token = token;
    const api = createParleyClient({ baseUrl: location.origin, token: this.tokenSource });
    this.sock = this.newSocket(me, api);
    const app = this;
    this.ctx = { me, api, get sock() { return app.sock; }, presence: new Map(), fail: (what, err) => this.fail(what, err) };
    this.inbox = new Inbox(me);
    this.sidebar = new Sidebar(this.ctx, this.inbox, (s) => this.open(s));
  }

  start(): void {
    const { me } = this.ctx;
    fill(this.root, h("div", { class: "app", "data-testid": "app", "data-user": me },
      h("header", { class: "topbar" },
        h("h1", {}, h("span", { class: "logo" }, "◆"), " Parley"),
        this.status,
        h("span", { class: "me", "data-testid": "me", title: `Signed in as ${me}` }, avatar(me), h("strong", {}, me)),
        h("button", { class: "link", "data-testid": "signout", onclick: () => this.signOut() }, "Sign out")),
      this.sidebar.el,
      this.main,
      this.toast));
    this.listen(document, "visibilitychange", () => { if (document.visibilityState === "visible") this.markViewedRead(); });
    // Back online: connect now rather than when the backoff, grown while offline, says so.
    this.listen(window, "online", () => { if (this.sock.state === "reconnecting") this.replaceSocket(); });
    this.connect();
    this.reload();
  }

  stop(): void {
    for (const off of this.offs.splice(0)) off();
    for (const off of this.sockOffs.splice(0)) off();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    clearTimeout(this.readTimer);
    this.view?.close();
    this.sock.close();
  }

  private newSocket(me: string, api: ParleyClient): ParleySocket {
    return new ParleySocket({ baseUrl: location.origin, token: this.tokenSource, api, cursors: new LocalStorageCursorStore(`parley:${me}`) });
  }

  // connect routes the socket's frames to the page and starts it.
  private connect(): void {
    const { sock, ctx } = this;
    this.sockOffs.push(
      sock.on("event", (ev) => this.onEvent(ev)),
      sock.on("typing", (f) => { if (f.conversation_id === this.view?.id) this.view.onTyping(f.user_id); }),
      sock.on("read", (f) => { if (f.user_id === ctx.me) { this.inbox.markRead(f.conversation_id, f.seq); this.sidebar.render(); } }),
      sock.on("presence", (f) => {
        for (const p of f.users) ctx.presence.set(p.user_id, p.status === "online");
        this.view?.renderPresence();
      }),
      sock.on("state", (state) => this.onState(state)),
      sock.on("clientError", (err) => console.warn("parley socket:", err)),
    );
    for (const s of this.inbox.list()) sock.track(s.id, s.last_seq);
    if (this.presenceIds) sock.subscribePresence(this.presenceIds);
    sock.connect();
  }

  // replaceSocket swaps the socket for a new one that resumes from the same stored cursors.
  private replaceSocket(): void {
    for (const off of this.sockOffs.splice(0)) off();
    this.sock.close();
    this.sock = this.newSocket(this.ctx.me, this.ctx.api);
    this.connect();
  }

  private listen(on: EventTarget, type: string, handler: () => void): void {
    on.addEventListener(type, handler);
    this.offs.push(() => on.removeEventListener(type, handler));
  }

  private onEvent(ev: Event): void {
    const viewing = this.viewing(ev.conversation_id);
    if (!this.inbox.apply(ev, viewing)) this.reload();
    if (this.view?.id === ev.conversation_id) {
      this.view.onEvent(ev);
      if (viewing && ev.type === "message.created" && ev.message?.sender_id !== this.ctx.me) this.markReadSoon();
    }
    this.sidebar.render();
  }

  private onState(state: string): void {
    this.status.dataset.state = state;
    this.status.textContent = stateLabels[state] ?? state;
    if (state === "open") {
      // Back after a disconnect: conversations joined meanwhile have no events on this socket yet.
      if (this.wasOpen) this.reload();
      this.wasOpen = true;
    }
    // The token expired: get a new one for the same user; setToken reconnects.
    if (state === "unauthorized" && !this.refreshingToken) {
      this.refreshingToken = true;
      requestToken(this.ctx.me)
        .then((token) => {
          this.token = token;
          this.sock.setToken(this.tokenSource);
        })
        .catch((err) => this.fail("Sign in again", err))
        .finally(() => { this.refreshingToken = false; });
    }
  }

  private viewing(id: string): boolean {
    return this.view?.id === id && document.visibilityState === "visible";
  }

  // reload fetches the conversation list; a call while one is running runs one more after it,
  // so a conversation joined meanwhile is not missed.
  private reload(): void {
    if (this.reloading) {
      this.reloadAgain = true;
      return;
    }
    this.reloading = allConversations(this.ctx.api)
      .then((items) => {
        this.inbox.load(items);
        // Follow each conversation from what the list counted, so a reconnect replays the rest.
        for (const s of items) this.sock.track(s.id, s.last_seq);
        this.sidebar.render();
        this.markViewedRead();
        this.reopen();
      })
      .catch((err) => this.fail("Conversations", err))
      .finally(() => {
        this.reloading = undefined;
        if (this.reloadAgain) {
          this.reloadAgain = false;
          this.reload();
        }
      });
  }

  // reopen opens the conversation the address names (#<id>), once the list has it: a reloaded
  // page shows what it showed before.
  private reopen(): void {
    const s = this.inbox.get(location.hash.slice(1));
    if (s && !this.view) this.open(s);
  }

  private open(s: ConversationSummary): void {
    if (!this.inbox.get(s.id)) {
      this.inbox.load([s]);
      this.sock.track(s.id, s.last_seq);
    }
    if (this.view?.id === s.id) return;
    this.view?.close();
    const view = new ConversationView(this.ctx, s, this.sidebar.label(s), (ids) => {
      if (this.view !== view) return;
      this.presenceIds = ids;
      this.sock.subscribePresence(ids);
    });
    this.view = view;
    history.replaceState(null, "", `#${s.id}`);
    fill(this.main, view.el);
    this.sidebar.select(s.id);
    view.load().then(() => this.markViewedRead(), (err) => this.fail("Messages", err));
    view.el.querySelector<HTMLInputElement>("[data-testid=composer-input]")?.focus();
  }

  private markReadSoon(): void {
    clearTimeout(this.readTimer);
    this.readTimer = setTimeout(() => this.markViewedRead(), readDelay);
  }

  // markViewedRead marks the open conversation read up to its latest event.
  private markViewedRead(): void {
    const s = this.view && this.viewing(this.view.id) ? this.inbox.get(this.view.id) : undefined;
    if (!s || s.last_seq === 0) return;
    const seq = s.last_seq;
    this.inbox.markRead(s.id, seq);
    this.sidebar.render();
    if ((this.toldRead.get(s.id) ?? -1) >= seq) return;
    this.toldRead.set(s.id, seq);
    markRead(this.ctx, s.id, seq).catch((err) => {
      this.toldRead.delete(s.id);
      this.fail("Mark read", err);
    });
  }

  private fail(what: string, err: unknown): void {
    console.error(what, err);
    this.toast.textContent = `${what}: ${err instanceof Error ? err.message : String(err)}`;
    this.toast.hidden = false;
    const t = setTimeout(() => {
      this.timers.delete(t);
      this.toast.hidden = true;
    }, 6000);
    this.timers.add(t);
  }
}
