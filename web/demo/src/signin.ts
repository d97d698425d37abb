import { h } from "./dom.ts";

const userKey = "parley-demo:user";

// requestToken asks the development server for a token for `user`: POST /demo/token, beside this page.
export async function requestToken(user: string): Promise<string> {
  const res = await fetch(new URL("token", document.baseURI), {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ user_id: user }),
  });
  const body = await res.json().catch(() => ({}));
  if (!res.ok || typeof body.token !== "string") throw new Error(body.detail ?? `The token request failed (${res.status}).`);
  return body.token;
}

export function rememberedUser(): string | null {
  return sessionStorage.getItem(userKey);
}

export function forgetUser(): void {
  sessionStorage.removeItem(userKey);
}

// signInForm asks for a user name, gets a token for it, remembers the name for this tab and
// hands both on. Session storage, not local: a reload stays signed in, and a second tab may be
// someone else.
export function signInForm(signedIn: (user: string, token: string) => void): HTMLElement {
  const input = h("input", { "data-testid": "signin-user", placeholder: "alice", autocomplete: "username", "aria-label": "User name", required: true, maxlength: 128 });
  const error = h("p", { class: "error-text", "data-testid": "signin-error", "aria-live": "polite" });
  return h("main", { class: "signin" },
    h("form", {
      onsubmit: async (e: Event) => {
        e.preventDefault();
        const user = input.value.trim();
        try {
          const token = await requestToken(user);
          sessionStorage.setItem(userKey, user);
          signedIn(user, token);
        } catch (err) {
          error.textContent = err instanceof Error ? err.message : String(err);
        }
      },
    },
      h("h1", {}, h("span", { class: "logo" }, "◆"), " Parley"),
      h("p", { class: "hint" }, "A demo chat on the Parley API. Sign in as anyone: open a second window as someone else to talk to them."),
      input,
      h("button", { type: "submit", "data-testid": "signin-submit" }, "Sign in"),
      error));
}
