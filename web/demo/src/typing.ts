import { h } from "./dom.ts";

// How long "… is typing" shows after the last typing signal, and how often this page sends one.
const showFor = 4000;
export const typingEvery = 2000;

// TypingLine shows who else is typing in the open conversation. Each user's line goes away on its
// own timer, or when their message arrives; stop() clears every timer.
export class TypingLine {
  readonly el = h("div", { class: "typing", "data-testid": "typing", "aria-live": "polite" });
  private readonly timers = new Map<string, ReturnType<typeof setTimeout>>();

  typing(user: string): void {
    clearTimeout(this.timers.get(user));
    this.timers.set(user, setTimeout(() => this.done(user), showFor));
    this.render();
  }

  done(user: string): void {
    clearTimeout(this.timers.get(user));
    if (this.timers.delete(user)) this.render();
  }

  stop(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  private render(): void {
    const users = [...this.timers.keys()];
    this.el.textContent =
      users.length === 0 ? "" :
      users.length === 1 ? `${users[0]} is typing…` :
      `${users.slice(0, -1).join(", ")} and ${users[users.length - 1]} are typing…`;
  }
}
