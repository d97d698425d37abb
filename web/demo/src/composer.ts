import { h } from "./dom.ts";

export interface ComposerOptions {
  testid: string;
  placeholder: string;
  // send is given the text and its client_msg_id, the same one again when a failed send of the
  // same text is retried, so that a send that did reach the server is not posted twice.
  send(body: string, clientMsgId: string): Promise<void>;
  // typing is called on each keystroke; the caller throttles.
  typing?(): void;
}

// composer is a one-line message form: Enter or the button sends, and the text stays in place
// until the server has taken it (a failed send can be retried; the caller shows the failure).
export function composer(o: ComposerOptions): HTMLFormElement {
  const input = h("input", { class: "composer-input", "data-testid": `${o.testid}-input`, placeholder: o.placeholder, autocomplete: "off", maxlength: 4000, "aria-label": o.placeholder });
  const button = h("button", { type: "submit", "data-testid": `${o.testid}-send` }, "Send");
  let pending: { body: string; id: string } | undefined;
  input.addEventListener("input", () => o.typing?.());
  return h("form", {
    class: "composer",
    onsubmit: async (e: Event) => {
      e.preventDefault();
      const body = input.value.trim();
      if (!body) return;
      if (pending?.body !== body) pending = { body, id: crypto.randomUUID() };
      button.disabled = true;
      try {
        await o.send(body, pending.id);
        pending = undefined;
        input.value = "";
      } catch {
        // send showed the failure; the text stays for a retry.
      } finally {
        button.disabled = false;
        input.focus();
      }
    },
  }, input, button);
}
