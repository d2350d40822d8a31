/**
 * The only way the app makes elements: text always goes in as text nodes, attributes are the app's own
 * literals. Nothing here takes HTML, and no link is ever made from what a sender wrote.
 */
export type Child = Node | string | number | null | undefined | false;
type Handler = (event: Event) => void;
export type Attrs = Record<string, string | boolean | Handler | undefined>;

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    if (typeof value === "function") node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  append(node, ...children);
  return node;
}

export function append(parent: Node, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === "object" ? child : document.createTextNode(String(child)));
  }
}

/** Empties `parent` and fills it anew. */
export function replace(parent: Node, ...children: Child[]): void {
  while (parent.firstChild) parent.removeChild(parent.firstChild);
  append(parent, ...children);
}

// Characters that reorder or hide text (bidi overrides and isolates, zero-width and other format
// characters, controls but line breaks and tabs): shown as their code point, so text reads as it is.
const HIDDEN = /(?!\n|\t|\u200d|\ufe0f)[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu;

/** A sender's text as a person should read it: every hidden or reordering character made visible. */
export function visible(text: string): string {
  return text.replace(HIDDEN, (c) => `\u27e8U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}\u27e9`);
}

/** A field with its label (every input has one, for screen readers and for tapping on a phone). */
export function field(label: string, input: HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement, hint?: string): HTMLElement {
  return el("label", { class: "field" }, el("span", { class: "field-label" }, label), input, hint ? el("small", {}, hint) : null);
}

/** A line the app says (an error, a confirmation), announced by screen readers. */
export function status(text = ""): HTMLElement {
  return el("p", { class: "status", role: "status", "aria-live": "polite" }, text);
}
