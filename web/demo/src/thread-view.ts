import { messageActions, send } from "./actions.ts";
import { composer } from "./composer.ts";
import type { Ctx } from "./context.ts";
import { h } from "./dom.ts";
import { allReplies, asOf } from "./fetching.ts";
import { MessageList } from "./message-list.ts";
import type { Timeline } from "./timeline.ts";

// ThreadView is the side pane of one thread: its root, its replies, and a form to reply. It reads
// the conversation's Timeline, which the conversation view keeps current; what it adds to the
// timeline itself it hands to `redraw`, which redraws the conversation and the thread.
export class ThreadView {
  readonly el: HTMLElement;
  private readonly rootList: MessageList;
  private readonly list: MessageList;

  constructor(private readonly ctx: Ctx, private readonly timeline: Timeline, readonly rootSeq: number, close: () => void, typing: () => void, private readonly redraw: (changed: Set<number>) => void) {
    const act = messageActions(ctx, timeline.conversationId);
    const listEl = h("div", { class: "messages", "data-testid": "thread-messages" });
    const rootEl = h("div", { class: "thread-root", "data-testid": "thread-root" });
    this.rootList = new MessageList(rootEl, act);
    this.list = new MessageList(listEl, act);
    this.el = h("aside", { class: "thread", "data-testid": "thread", "data-root": rootSeq },
      h("header", {}, h("h2", {}, "Thread"), h("button", { class: "close", "data-testid": "thread-close", title: "Close thread", onclick: close }, "×")),
      rootEl,
      listEl,
      composer({
        testid: "thread",
        placeholder: "Reply…",
        typing,
        send: async (body, id) => {
          try {
            // The root's reply count changes too: the whole conversation redraws.
            this.redraw(this.timeline.add(await send(ctx, timeline.conversationId, body, id, rootSeq)));
          } catch (err) {
            ctx.fail("Reply", err);
            throw err;
          }
        },
      }));
  }

  // load fetches the replies as of a known seq into the timeline.
  async load(): Promise<void> {
    const { value, at } = await asOf(this.ctx.api, this.timeline.conversationId, () => allReplies(this.ctx.api, this.timeline.conversationId, this.rootSeq));
    this.redraw(this.timeline.merge(value, at));
  }

  // update redraws what changed among the root and its replies.
  update(changed: Set<number>): void {
    const root = this.timeline.get(this.rootSeq);
    this.rootList.update(root ? [root] : [], changed);
    this.list.update(this.timeline.replies(this.rootSeq), changed);
  }
}
