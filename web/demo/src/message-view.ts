import type { Message } from "./client.ts";
import { avatar, h, timeOf } from "./dom.ts";

// The emoji offered as one-click reactions.
export const quickReactions = ["👍", "❤️", "😂", "🎉"];

// MessageActions are what a rendered message can ask for; the view that owns it does the work.
export interface MessageActions {
  me: string;
  react(m: Message, emoji: string): void;
  edit(m: Message, body: string): void;
  remove(m: Message): void;
  // openThread is absent inside a thread: threads are one level deep.
  openThread?(m: Message): void;
}

// renderMessage draws one message: avatar, sender, time, body (or its tombstone), reactions,
// the thread link and, on hover, the actions the user may take on it.
export function renderMessage(m: Message, act: MessageActions): HTMLElement {
  const mine = m.sender_id === act.me;
  const deleted = Boolean(m.deleted_at);
  const el = h("article", { class: `message${mine ? " mine" : ""}${deleted ? " deleted" : ""}`, "data-testid": "message", "data-seq": m.seq, "data-sender": m.sender_id, "data-deleted": deleted },
    avatar(m.sender_id),
    h("div", { class: "bubble" },
      h("header", {},
        h("span", { class: "sender" }, m.sender_id),
        h("time", { datetime: m.created_at }, timeOf(m.created_at)),
        m.edited_at && !deleted ? h("span", { class: "edited", "data-testid": "edited" }, "edited") : null),
      deleted
        ? h("p", { class: "body tombstone", "data-testid": "message-body" }, "This message was deleted.")
        : h("p", { class: "body", "data-testid": "message-body" }, m.body),
      deleted ? null : reactions(m, act),
      act.openThread && m.reply_count > 0
        ? h("button", { class: "thread-link", "data-testid": "reply-count", onclick: () => act.openThread!(m) }, `${m.reply_count} ${m.reply_count === 1 ? "reply" : "replies"}`)
        : null),
    deleted ? null : actions(m, mine, act));
  return el;
}

function reactions(m: Message, act: MessageActions): HTMLElement | null {
  if (m.reactions.length === 0) return null;
  const my = new Set(m.my_reactions ?? []);
  return h("div", { class: "reactions" }, m.reactions.map((r) =>
    h("button", { class: my.has(r.emoji) ? "chip mine" : "chip", "data-testid": "reaction", "data-emoji": r.emoji, "data-count": r.count, title: my.has(r.emoji) ? "Remove your reaction" : "React", onclick: () => act.react(m, r.emoji) },
      `${r.emoji} ${r.count}`)));
}

function actions(m: Message, mine: boolean, act: MessageActions): HTMLElement {
  return h("div", { class: "actions" },
    quickReactions.map((emoji) => h("button", { "data-testid": "react", "data-emoji": emoji, title: `React ${emoji}`, onclick: () => act.react(m, emoji) }, emoji)),
    act.openThread ? h("button", { "data-testid": "reply", title: "Reply in thread", onclick: () => act.openThread!(m) }, "Reply") : null,
    mine ? h("button", { "data-testid": "edit", title: "Edit", onclick: (e: Event) => startEdit(e, m, act) }, "Edit") : null,
    mine ? h("button", { "data-testid": "delete", title: "Delete", onclick: () => act.remove(m) }, "Delete") : null);
}

// startEdit swaps the body for an input: Enter saves, Escape cancels. The message is re-rendered
// by the event the edit causes.
function startEdit(e: Event, m: Message, act: MessageActions): void {
  const article = (e.currentTarget as HTMLElement).closest("article")!;
  const body = article.querySelector<HTMLElement>(".body")!;
  const input = h("input", { class: "edit-input", "data-testid": "edit-input", value: m.body, "aria-label": "Edit message" });
  let editing = true;
  // Once only: taking the input out of the page blurs it, which restores again.
  const restore = () => {
    if (!editing) return;
    editing = false;
    input.replaceWith(body);
  };
  input.addEventListener("keydown", (k) => {
    if (k.key === "Escape") restore();
    if (k.key === "Enter" && input.value.trim() !== "") {
      const text = input.value.trim();
      restore();
      body.textContent = text;
      act.edit(m, text);
    }
  });
  input.addEventListener("blur", restore);
  body.replaceWith(input);
  input.focus();
  input.select();
}
