// Chat drives one user's demo page through what a person sees and clicks: data-testid
// attributes only, no reaching into the page's code.

const timeout = 15_000;

export class Chat {
  constructor(page, user) {
    this.page = page;
    this.user = user;
  }

  async signIn(url) {
    await this.page.goto(url);
    await this.page.getByTestId("signin-user").fill(this.user);
    await this.page.getByTestId("signin-submit").click();
    await this.connected();
  }

  async connected() {
    await this.until(() => document.querySelector("[data-testid=connection]")?.dataset.state === "open", undefined, "connected");
  }

  async state() {
    return this.page.getByTestId("connection").getAttribute("data-state");
  }

  async newGroup(title, members) {
    await this.page.getByTestId("new-type").selectOption("group");
    await this.page.getByTestId("new-title").fill(title);
    await this.page.getByTestId("new-members").fill(members.join(", "));
    await this.page.getByTestId("new-submit").click();
    await this.until((t) => document.querySelector("[data-testid=conversation-title]")?.textContent === t, title, `group ${title} open`);
  }

  async newDirect(other) {
    await this.page.getByTestId("new-type").selectOption("direct");
    await this.page.getByTestId("new-members").fill(other);
    await this.page.getByTestId("new-submit").click();
    await this.until((t) => document.querySelector("[data-testid=conversation-title]")?.textContent === t, other, `direct with ${other} open`);
  }

  conversationItem(title) {
    return this.page.locator(`[data-testid=conversation-item][data-title="${title}"]`);
  }

  async open(title) {
    await this.conversationItem(title).click();
    await this.until((t) => document.querySelector("[data-testid=conversation-title]")?.textContent === t, title, `${title} open`);
  }

  // unread is the count the sidebar shows for a conversation once it equals `want`.
  async waitUnread(title, want) {
    await this.until(([t, n]) => document.querySelector(`[data-testid=conversation-item][data-title="${t}"]`)?.dataset.unread === String(n), [title, want], `unread ${want} on ${title}`);
  }

  async send(text) {
    await this.page.getByTestId("composer-input").fill(text);
    await this.page.getByTestId("composer-send").click();
    await this.waitMessage(text);
  }

  // message is the main list's message with exactly this body.
  message(text, scope = "messages") {
    return this.page.getByTestId(scope).getByTestId("message").filter({ has: this.page.getByTestId("message-body").getByText(text, { exact: true }) });
  }

  async waitMessage(text, scope = "messages") {
    await this.message(text, scope).waitFor({ timeout });
  }

  // messages lists the main list as rendered: seq, sender, body, and whether edited or deleted.
  async messages() {
    return this.page.$$eval("[data-testid=messages] [data-testid=message]", (els) => els.map((el) => ({
      seq: Number(el.dataset.seq),
      sender: el.dataset.sender,
      body: el.querySelector("[data-testid=message-body]").textContent,
      edited: el.querySelector("[data-testid=edited]") !== null,
      deleted: el.dataset.deleted !== undefined,
      reactions: [...el.querySelectorAll("[data-testid=reaction]")].map((r) => r.textContent).join(" "),
      replies: el.querySelector("[data-testid=reply-count]")?.textContent ?? "",
    })));
  }

  async typingLine() {
    return this.page.getByTestId("typing").textContent();
  }

  // until waits for fn(arg) to hold in the page, failing with `what` after the deadline.
  async until(fn, arg, what) {
    try {
      await this.page.waitForFunction(fn, arg, { timeout, polling: 50 });
    } catch (err) {
      throw new Error(`${this.user}: waiting for ${what}: ${err.message.split("\n")[0]}`);
    }
  }
}
