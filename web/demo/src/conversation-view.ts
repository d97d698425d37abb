import type { ConversationSummary, Event, Member, Message } from "./client.ts";
import { messageActions, send } from "./actions.ts";
import { composer } from "./composer.ts";
import type { Ctx } from "./context.ts";
import { avatar, fill, h } from "./dom.ts";
import { asOf, members, roots } from "./fetching.ts";
import { MessageList } from "./message-list.ts";
import { ThreadView } from "./thread-view.ts";
import { Timeline } from "./timeline.ts";
import { TypingLine, typingEvery } from "./typing.ts";

// ConversationView is the open conversation: its header with the members and their presence, the
// messages, who is typing, the form to send, and the thread pane when one is open. It applies the
// conversation's events to its Timeline and redraws what they changed.
export class ConversationView {
  readonly el: HTMLElement;
  readonly id: string;
  private readonly timeline: Timeline;
  private readonly list: MessageList;
  private readonly scroller: HTMLElement;
  private readonly title = h("h2", { "data-testid": "conversation-title" });
  private readonly memberBar = h("div", { class: "members", "data-testid": "members" });
  private readonly older = h("button", { class: "older", "data-testid": "load-older", hidden: true }, "Load earlier messages");
  private readonly typing = new TypingLine();
  private readonly pane = h("div", { class: "pane" });
  private thread?: ThreadView;
  private memberIds: string[] = [];
  private lastTypingSent = 0;
  private readonly direct: boolean;

  constructor(private readonly ctx: Ctx, summary: ConversationSummary, label: string, private readonly onMembers: (ids: string[]) => void) {
    this.id = summary.id;
    this.direct = summary.type === "direct";
    this.timeline = new Timeline(summary.id, ctx.me);
    this.title.textContent = label;
    const listEl = h("div", { class: "messages", "data-testid": "messages" });
    this.scroller = h("div", { class: "scroller" }, this.older, listEl);
    this.list = new MessageList(listEl, messageActions(ctx, summary.id, (m) => this.openThread(m)), this.scroller);
    this.older.addEventListener("click", () => this.loadOlder().catch((err) => ctx.fail("Load earlier messages", err)));
    const main = h("section", { class: "chat", "data-testid": "chat", "data-conversation": summary.id },
      h("header", { class: "chat-header" }, this.title, this.memberBar),
      this.scroller,
      this.typing.el,
      composer({
        testid: "composer",
        placeholder: "Write a message…",
        typing: () => this.sendTyping(),
        send: async (body, id) => {
          try {
            this.redraw(this.timeline.add(await send(ctx, summary.id, body, id)));
          } catch (err) {
            ctx.fail("Send", err);
            throw err;
          }
        },
      }));
    this.el = h("div", { class: "conversation" }, main, this.pane);
  }

  // load reads the members and the latest messages; events that arrive meanwhile are held by
  // the timeline and re-applied on top.
  async load(): Promise<void> {
    await this.loadMembers();
    const { value, at } = await asOf(this.ctx.api, this.id, () => roots(this.ctx.api, this.id));
    this.timeline.hasOlder = value.has_more;
    this.redraw(this.timeline.merge(value.items, at));
    this.scroller.scrollTop = this.scroller.scrollHeight;
  }

  onEvent(ev: Event): void {
    if (ev.type === "message.created" && ev.message) this.typing.done(ev.message.sender_id);
    if (ev.type === "member.added" || ev.type === "member.removed") this.loadMembers().catch((err) => this.ctx.fail("Members", err));
    this.redraw(this.timeline.apply(ev));
  }

  onTyping(user: string): void {
    if (user !== this.ctx.me) this.typing.typing(user);
  }

  // renderPresence redraws the member bar's dots from ctx.presence.
  renderPresence(): void {
    fill(this.memberBar, this.memberIds.map((id) =>
      h("span", { class: "member", "data-testid": "member", "data-user": id }, avatar(id, this.ctx.presence.get(id) ?? false), id)));
  }

  close(): void {
    this.typing.stop();
  }

  private async loadMembers(): Promise<void> {
    const list: Member[] = await members(this.ctx.api, this.id);
    this.memberIds = list.map((m) => m.user_id).sort();
    // A direct conversation is named after the other member.
    if (this.direct) this.title.textContent = this.memberIds.find((id) => id !== this.ctx.me) ?? this.ctx.me;
    this.renderPresence();
    this.onMembers(this.memberIds);
  }

  private async loadOlder(): Promise<void> {
    const before = this.timeline.oldestRootSeq();
    if (before === undefined) return;
    const { value, at } = await asOf(this.ctx.api, this.id, () => roots(this.ctx.api, this.id, before));
    this.timeline.hasOlder = value.has_more;
    this.redraw(this.timeline.merge(value.items, at));
  }

  private openThread(m: Message): void {
    this.thread = new ThreadView(this.ctx, this.timeline, m.seq, () => this.closeThread(), () => this.sendTyping(), (changed) => this.redraw(changed));
    fill(this.pane, this.thread.el);
    this.el.classList.add("with-thread");
    this.thread.update(new Set());
    this.thread.load().catch((err) => this.ctx.fail("Thread", err));
  }

  private closeThread(): void {
    this.thread = undefined;
    fill(this.pane);
    this.el.classList.remove("with-thread");
  }

  private redraw(changed: Set<number>): void {
    this.older.hidden = !this.timeline.hasOlder;
    this.list.update(this.timeline.roots(), changed);
    this.thread?.update(changed);
  }

  // sendTyping tells the others at most once every few seconds while the user types.
  private sendTyping(): void {
    const now = Date.now();
    if (now - this.lastTypingSent < typingEvery) return;
    this.lastTypingSent = now;
    this.ctx.sock.typing(this.id);
  }
}
