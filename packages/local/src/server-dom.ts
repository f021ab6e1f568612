/**
 * Just enough of the DOM for the console's view builders (`h()`, `fill()`, the graph's SVG) to
 * run in local mode's server, and to write what they built as HTML: elements with attributes
 * and children, text, `className`/`dataset`/`textContent`, the reflected properties the views
 * set (`open`, `type`…), and `querySelector` for the simple selectors the list's drawing uses
 * (`tag`, `#id`, `.class`, `tag.class`, after an optional `:scope >`). Listeners are dropped:
 * the page is a first paint, and the console's modules draw it again, live, once they load.
 *
 * Why not jsdom or linkedom: the views need a few dozen lines of DOM, and the console is
 * served with no dependency beyond the ones it already has.
 */

const VOID = new Set([
  "area",
  "base",
  "br",
  "col",
  "embed",
  "hr",
  "img",
  "input",
  "link",
  "meta",
  "source",
  "wbr",
]);
/** Properties the views set that the DOM reflects as attributes (boolean ones by presence). */
const BOOLEAN = ["open", "checked", "selected", "disabled", "hidden"] as const;

/** `dataset.fooBar` is the attribute `data-foo-bar`. */
const dataName = (key: string) => `data-${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

const escapeText = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const escapeAttr = (s: string) => escapeText(s).replace(/"/g, "&quot;");

export class ServerNode {
  parentNode: ServerElement | null = null;
  remove(): void {
    const parent = this.parentNode;
    if (!parent) return;
    parent.childNodes.splice(parent.childNodes.indexOf(this), 1);
    this.parentNode = null;
  }
  get textContent(): string {
    return "";
  }
  toHtml(): string {
    return "";
  }
}

export class ServerText extends ServerNode {
  constructor(public data: string) {
    super();
  }
  override get textContent(): string {
    return this.data;
  }
  override toHtml(): string {
    return escapeText(this.data);
  }
}

export class ServerElement extends ServerNode {
  readonly tagName: string;
  readonly attributes = new Map<string, string>();
  readonly childNodes: ServerNode[] = [];
  #dataset: Record<string, string> | undefined;

  // An element is made for every node of a page (a run page has thousands), so it carries no
  // closures of its own: the boolean properties are on the prototype (below), and `dataset` is
  // made when first read.
  constructor(tag: string) {
    super();
    this.tagName = tag;
  }

  get dataset(): Record<string, string> {
    const attrs = this.attributes;
    this.#dataset ??= new Proxy({} as Record<string, string>, {
      get: (_, key) => (typeof key === "string" ? attrs.get(dataName(key)) : undefined),
      set: (_, key, value) => {
        attrs.set(dataName(String(key)), String(value));
        return true;
      },
    });
    return this.#dataset;
  }

  setAttribute(name: string, value: unknown): void {
    this.attributes.set(name, String(value));
  }
  getAttribute(name: string): string | null {
    return this.attributes.get(name) ?? null;
  }
  removeAttribute(name: string): void {
    this.attributes.delete(name);
  }
  hasAttribute(name: string): boolean {
    return this.attributes.has(name);
  }
  get className(): string {
    return this.attributes.get("class") ?? "";
  }
  set className(value: string) {
    this.attributes.set("class", value);
  }
  get id(): string {
    return this.attributes.get("id") ?? "";
  }
  set id(value: string) {
    this.attributes.set("id", value);
  }
  get type(): string {
    return this.attributes.get("type") ?? "";
  }
  set type(value: string) {
    this.attributes.set("type", value);
  }
  get value(): string {
    return this.attributes.get("value") ?? "";
  }
  set value(value: string) {
    this.attributes.set("value", value);
  }
  addEventListener(): void {}
  removeEventListener(): void {}

  get children(): ServerElement[] {
    return this.childNodes.filter((n): n is ServerElement => n instanceof ServerElement);
  }
  get lastElementChild(): ServerElement | null {
    return this.children.at(-1) ?? null;
  }
  override get textContent(): string {
    return this.childNodes.map((n) => n.textContent).join("");
  }
  override set textContent(text: string) {
    this.replaceChildren(text);
  }

  append(...nodes: Array<ServerNode | string>): void {
    for (const node of nodes) this.insertBefore(node, null);
  }
  appendChild(node: ServerNode): ServerNode {
    this.insertBefore(node, null);
    return node;
  }
  insertBefore(node: ServerNode | string, before: ServerNode | null): void {
    const child = typeof node === "string" ? new ServerText(node) : node;
    child.remove();
    child.parentNode = this;
    const at = before ? this.childNodes.indexOf(before) : -1;
    if (at < 0) this.childNodes.push(child);
    else this.childNodes.splice(at, 0, child);
  }
  replaceChildren(...nodes: Array<ServerNode | string>): void {
    for (const old of [...this.childNodes]) old.remove();
    this.append(...nodes);
  }
  replaceWith(node: ServerNode): void {
    const parent = this.parentNode;
    if (!parent) return;
    parent.insertBefore(node, this);
    this.remove();
  }
  contains(node: ServerNode | null): boolean {
    for (let n = node; n; n = n.parentNode) if (n === this) return true;
    return false;
  }

  /** The first descendant (or child, after `:scope >`) matching `tag`, `#id`, `.class` or `tag.class`. */
  querySelector(selector: string): ServerElement | null {
    const direct = selector.startsWith(":scope >");
    const m = selector.replace(/^:scope >\s*/, "").match(/^([a-z0-9-]*)(?:#([\w-]+))?(?:\.([\w-]+))?$/i);
    if (!m) throw new Error(`server-dom: unsupported selector ${selector}`);
    const [, tag, id, cls] = m;
    const matches = (e: ServerElement) =>
      (!tag || e.tagName === tag) && (!id || e.id === id) && (!cls || e.className.split(/\s+/).includes(cls));
    const walk = (e: ServerElement): ServerElement | null => {
      for (const c of e.children) {
        if (matches(c)) return c;
        const deep = direct ? null : walk(c);
        if (deep) return deep;
      }
      return null;
    };
    return walk(this);
  }

  override toHtml(): string {
    let attrs = "";
    for (const [k, v] of this.attributes) attrs += v === "" ? ` ${k}` : ` ${k}="${escapeAttr(v)}"`;
    if (VOID.has(this.tagName)) return `<${this.tagName}${attrs}>`;
    return `<${this.tagName}${attrs}>${this.childNodes.map((n) => n.toHtml()).join("")}</${this.tagName}>`;
  }
}

for (const prop of BOOLEAN)
  Object.defineProperty(ServerElement.prototype, prop, {
    get(this: ServerElement) {
      return this.attributes.has(prop);
    },
    set(this: ServerElement, on: unknown) {
      if (on) this.attributes.set(prop, "");
      else this.attributes.delete(prop);
    },
  });

export const serverDocument = {
  createElement: (tag: string) => new ServerElement(tag.toLowerCase()),
  createElementNS: (_ns: string, tag: string) => new ServerElement(tag),
  createTextNode: (text: string) => new ServerText(text),
  getElementById: () => null,
};

/** HTML of what `h()` and friends returned (a node, text, or lists of those). */
export function toHtml(built: unknown): string {
  if (built === undefined || built === null || built === false || built === "") return "";
  if (Array.isArray(built)) return built.map(toHtml).join("");
  if (built instanceof ServerNode) return built.toHtml();
  return escapeText(String(built));
}

/**
 * Runs `build` (synchronous) with this DOM as the page's globals (`document`, `Node`) and
 * `extra` beside them, and puts back what was there: nothing else in the process sees them,
 * since nothing else runs until `build` returns.
 */
export function withServerDom<T>(extra: Record<string, unknown>, build: () => T): T {
  const g = globalThis as Record<string, unknown>;
  const globals = { document: serverDocument, Node: ServerNode, ...extra };
  const before = Object.keys(globals).map((k) => [k, Object.getOwnPropertyDescriptor(g, k)] as const);
  for (const [k, v] of Object.entries(globals))
    Object.defineProperty(g, k, { value: v, configurable: true, writable: true });
  try {
    return build();
  } finally {
    for (const [k, d] of before) {
      if (d) Object.defineProperty(g, k, d);
      else delete g[k];
    }
  }
}
