import { unwrap, type ConversationSummary } from "./client.ts";
import type { Ctx } from "./context.ts";
import { avatar, fill, h } from "./dom.ts";
import type { Inbox } from "./inbox.ts";

// Sidebar lists the user's conversations with their unread counts and holds the form that starts
// a new one. Direct conversations are named after the other member, looked up once.
export class Sidebar {
  readonly el: HTMLElement;
  private readonly list = h("nav", { class: "conversations", "data-testid": "conversations" });
  private readonly names = new Map<string, string>();
  private selected?: string;

  constructor(private readonly ctx: Ctx, private readonly inbox: Inbox, private readonly open: (s: ConversationSummary) => void) {
    this.el = h("aside", { class: "sidebar" }, newConversationForm(ctx, (s) => open(s)), this.list);
  }

  select(id: string | undefined): void {
    this.selected = id;
    this.render();
  }

  label(s: ConversationSummary): string {
    if (s.type === "group") return s.title ?? "Untitled group";
    return this.names.get(s.id) ?? (s.created_by !== this.ctx.me ? s.created_by : "…");
  }

  render(): void {
    const items = this.inbox.list();
    fill(this.list,
      items.length === 0 ? h("p", { class: "empty" }, "No conversations yet. Start one above.") : null,
      items.map((s) => this.item(s)));
  }

  private item(s: ConversationSummary): HTMLElement {
    const label = this.label(s);
    if (s.type === "direct" && !this.names.has(s.id) && s.created_by === this.ctx.me) this.lookUpOther(s);
    const last = s.last_message;
    const preview = !last ? "No messages yet" : last.deleted_at ? "Message deleted" : `${last.sender_id}: ${last.body}`;
    return h("button", {
      class: `conversation-item${s.id === this.selected ? " selected" : ""}${s.unread_count > 0 ? " unread" : ""}`,
      "data-testid": "conversation-item", "data-conversation": s.id, "data-title": label, "data-unread": s.unread_count,
      onclick: () => this.open(s),
    },
      avatar(label),
      h("span", { class: "item-text" }, h("span", { class: "item-title" }, label), h("span", { class: "item-preview" }, preview)),
      s.unread_count > 0 ? h("span", { class: "badge", "data-testid": "unread" }, String(s.unread_count)) : null);
  }

  private lookUpOther(s: ConversationSummary): void {
    this.names.set(s.id, "…");
    unwrap(this.ctx.api.GET("/v1/conversations/{conversation_id}/members", { params: { path: { conversation_id: s.id } } }))
      .then((list) => {
        this.names.set(s.id, list.items.find((m) => m.user_id !== this.ctx.me)?.user_id ?? this.ctx.me);
        this.render();
      })
      .catch((err) => {
        this.names.delete(s.id);
        this.ctx.fail("Members", err);
      });
  }
}

// newConversationForm starts a group (a title and member names) or a direct conversation (one
// name), then opens it.
function newConversationForm(ctx: Ctx, opened: (s: ConversationSummary) => void): HTMLElement {
  const kind = h("select", { "data-testid": "new-type", "aria-label": "Kind" }, h("option", { value: "group" }, "Group"), h("option", { value: "direct" }, "Direct"));
  const title = h("input", { "data-testid": "new-title", placeholder: "Title", maxlength: 200, "aria-label": "Title" });
  const who = h("input", { "data-testid": "new-members", placeholder: "Members: bob, carol", "aria-label": "Members", autocomplete: "off" });
  kind.addEventListener("change", () => {
    title.hidden = kind.value === "direct";
    who.placeholder = kind.value === "direct" ? "User: bob" : "Members: bob, carol";
  });
  return h("form", {
    class: "new-conversation",
    onsubmit: async (e: Event) => {
      e.preventDefault();
      const ids = who.value.split(/[\s,]+/).filter(Boolean);
      const type = kind.value === "direct" ? "direct" : "group";
      try {
        const conv = await unwrap(ctx.api.POST("/v1/conversations", {
          body: { type, member_ids: ids, ...(type === "group" && title.value.trim() ? { title: title.value.trim() } : {}) },
        }));
        title.value = "";
        who.value = "";
        opened({ ...conv, last_read_seq: conv.last_seq, unread_count: 0, unread_mention_count: 0, muted: false });
      } catch (err) {
        ctx.fail("New conversation", err);
      }
    },
  },
    h("h2", {}, "New conversation"),
    h("div", { class: "row" }, kind, title),
    who,
    h("button", { type: "submit", "data-testid": "new-submit" }, "Start"));
}
