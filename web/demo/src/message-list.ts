import type { Message } from "./client.ts";
import { renderMessage, type MessageActions } from "./message-view.ts";

// MessageList keeps a container showing messages in seq order, one element per seq: a message is
// redrawn only when it changed, and never twice, however often it is delivered.
export class MessageList {
  private readonly rendered = new Map<number, HTMLElement>();

  // scroller is the element that scrolls: el itself or one around it.
  constructor(readonly el: HTMLElement, private readonly act: MessageActions, private readonly scroller: HTMLElement = el) {}

  // update shows `messages` (ascending) and redraws the seqs in `changed`.
  update(messages: Message[], changed: Set<number>): void {
    const stick = this.nearBottom();
    const wanted = new Set(messages.map((m) => m.seq));
    for (const [seq, el] of this.rendered) {
      if (!wanted.has(seq)) {
        el.remove();
        this.rendered.delete(seq);
      }
    }
    messages.forEach((m, i) => {
      let el = this.rendered.get(m.seq);
      if (!el || changed.has(m.seq)) {
        // Leave a message being edited alone: its next event redraws it.
        if (el?.querySelector(".edit-input")) return;
        const next = renderMessage(m, this.act);
        el?.replaceWith(next);
        el = next;
        this.rendered.set(m.seq, el);
      }
      if (this.el.children[i] !== el) this.el.insertBefore(el, this.el.children[i] ?? null);
    });
    if (stick) this.scroller.scrollTop = this.scroller.scrollHeight;
  }

  private nearBottom(): boolean {
    const s = this.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < 80;
  }
}
