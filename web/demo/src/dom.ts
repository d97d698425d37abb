// A few lines instead of a framework: h() builds an element with attributes, event handlers
// (on* keys) and children.

type Child = Node | string | number | false | null | undefined;
type Attrs = Record<string, string | number | boolean | EventListener | undefined>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: (Child | Child[])[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "value" && "value" in el) {
      (el as HTMLInputElement).value = String(value);
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el: Element, children: (Child | Child[])[]): void {
  for (const child of children) {
    if (Array.isArray(child)) append(el, child);
    else if (child === null || child === undefined || child === false) continue;
    else el.append(child instanceof Node ? child : String(child));
  }
}

// replaceChildren with the same child filtering as h().
export function fill(el: Element, ...children: (Child | Child[])[]): void {
  el.replaceChildren();
  append(el, children);
}

// timeOf renders an RFC 3339 time as the local hour and minute.
export function timeOf(rfc3339: string): string {
  return new Date(rfc3339).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

// hue gives each user name a stable colour for its avatar.
export function hue(name: string): number {
  let n = 0;
  for (const ch of name) n = (n * 31 + ch.codePointAt(0)!) % 360;
  return n;
}

export function avatar(user: string, online?: boolean): HTMLElement {
  return h("span", { class: "avatar", style: `--hue:${hue(user)}`, title: user },
    user.slice(0, 1).toUpperCase(),
    online === undefined ? null : h("span", { class: online ? "dot online" : "dot", "data-testid": "presence", "data-user": user, "data-status": online ? "online" : "offline" }));
}
