// @ts-check
/**
 * A form generated from a runbook's params JSON Schema: variants, nested objects, tag maps as
 * `Key=Value` lines, lists, numbers with their bounds, booleans, defaults as placeholders,
 * descriptions as hints. `field()` gives `{ el, read() }`; `read()` throws `{ path, message }`.
 */
import { fill, h } from "../lib/dom.js";

/**
 * @typedef {{ el: HTMLElement, read: () => any }} Field
 * @typedef {{ id: string, hintId: string, hint: string, name: string, path: string[], required: boolean }} Ctx
 */

/** @param {Ctx} c @param {string} message @returns {never} */
const fail = (c, message) => {
  throw { path: c.path.join("."), message };
};

/** A control with its label and hint. @param {Ctx} c @param {HTMLElement} control */
const wrap = (c, control) =>
  h(
    "div",
    { class: "field", "data-path": c.path.join(".") },
    h(
      "label",
      { for: c.id },
      c.name,
      c.required ? h("span", { class: "req", title: "required" }, " * (required)") : "",
    ),
    control,
    c.hint ? h("div", { class: "hint", id: c.hintId }, c.hint) : "",
  );

/** The attributes every control shares. @param {Ctx} c */
const common = (c) => ({
  id: c.id,
  name: c.path.join("."),
  "aria-describedby": c.hint ? c.hintId : undefined,
});

/** One of several shapes (`oneOf` / `anyOf`), picked from a list. @param {any} schema @param {Ctx} c @param {any} value @returns {Field} */
function variantField(schema, c, value) {
  /** @type {any[]} */
  const variants = schema.oneOf ?? schema.anyOf;
  /** @param {any} v @param {number} i */
  const tag = (v, i) => {
    const k = Object.entries(v.properties ?? {}).find(([, p]) => /** @type {any} */ (p).const !== undefined);
    return k ? `${k[0]}: ${/** @type {any} */ (k[1]).const}` : `option ${i + 1}`;
  };
  const pick = Math.max(
    0,
    variants.findIndex((v) =>
      Object.entries(v.properties ?? {}).some(
        ([k, p]) => /** @type {any} */ (p).const !== undefined && value?.[k] === /** @type {any} */ (p).const,
      ),
    ),
  );
  const holder = h("div");
  /** @type {Field} */
  let current;
  /** @param {number} i */
  const show = (i) => {
    current = field(variants[i], "", c.path, c.required, i === pick ? value : undefined);
    fill(holder, current.el);
  };
  const sel = h(
    "select",
    {
      id: c.id,
      onchange: (/** @type {Event} */ ev) => show(Number(/** @type {HTMLSelectElement} */ (ev.target).value)),
    },
    variants.map((v, i) => h("option", { value: i, selected: i === pick }, tag(v, i))),
  );
  show(pick);
  return {
    el: h("div", {}, h("div", { class: "field" }, h("label", { for: c.id }, "Variant"), sel), holder),
    read: () => current.read(),
  };
}

/** An object with known properties: a field each. @param {any} schema @param {Ctx} c @param {any} value @returns {Field} */
function objectField(schema, c, value) {
  const req = new Set(schema.required ?? []);
  const kids = Object.entries(schema.properties).map(
    ([k, p]) => /** @type {[string, Field]} */ ([k, field(p, k, [...c.path, k], req.has(k), value?.[k])]),
  );
  const inner = kids.map(([, f]) => f.el);
  const el = c.name
    ? h(
        "fieldset",
        { "data-path": c.path.join(".") },
        h("legend", {}, c.name, c.required ? " *" : ""),
        c.hint ? h("p", { class: "hint small muted" }, c.hint) : "",
        inner,
      )
    : h("div", {}, inner);
  const read = () => {
    /** @type {Record<string, unknown>} */
    const out = {};
    for (const [k, f] of kids) {
      const v = f.read();
      if (v !== undefined) out[k] = v;
    }
    return !Object.keys(out).length && !c.required ? undefined : out;
  };
  return { el, read };
}

/** A map of strings (a tag selector): one `Key=Value` a line. @param {Ctx} c @param {any} value @returns {Field} */
function mapField(c, value) {
  const text = value
    ? Object.entries(value)
        .map(([k, v]) => `${k}=${v}`)
        .join("\n")
    : "";
  const ta = h("textarea", { ...common(c), placeholder: "Key=Value, one a line", rows: 2 }, text);
  const read = () => {
    const lines = ta.value
      .split("\n")
      .map((/** @type {string} */ l) => l.trim())
      .filter(Boolean);
    if (!lines.length) return c.required ? fail(c, "required") : undefined;
    /** @type {Record<string, string>} */
    const out = {};
    for (const l of lines) {
      const at = l.indexOf("=");
      if (at < 1) fail(c, `'${l}' is not Key=Value`);
      out[l.slice(0, at).trim()] = l.slice(at + 1).trim();
    }
    return out;
  };
  return { el: wrap(c, ta), read };
}

/** A list of strings: one a line (or comma-separated). @param {Ctx} c @param {any} value @returns {Field} */
function listField(c, value) {
  const ta = h("textarea", { ...common(c), placeholder: "one a line", rows: 2 }, (value ?? []).join("\n"));
  const read = () => {
    const items = ta.value
      .split(/[\n,]/)
      .map((/** @type {string} */ l) => l.trim())
      .filter(Boolean);
    return items.length ? items : c.required ? fail(c, "required") : undefined;
  };
  return { el: wrap(c, ta), read };
}

/** @param {any} schema @param {Ctx} c @param {any} value @returns {Field} */
function numberField(schema, c, value) {
  const input = h("input", {
    ...common(c),
    type: "number",
    min: schema.minimum,
    max: schema.maximum,
    step: schema.type === "integer" ? 1 : "any",
    value: value ?? "",
    placeholder: schema.default !== undefined ? String(schema.default) : "",
  });
  const read = () => {
    if (input.value === "") return c.required ? fail(c, "required") : undefined;
    const n = Number(input.value);
    return Number.isFinite(n) ? n : fail(c, "not a number");
  };
  return { el: wrap(c, input), read };
}

/** Anything the form does not know how to draw: JSON. @param {Ctx} c @param {any} value @returns {Field} */
function jsonField(c, value) {
  const ta = h(
    "textarea",
    { ...common(c), placeholder: "JSON" },
    value !== undefined ? JSON.stringify(value) : "",
  );
  const read = () => {
    if (!ta.value.trim()) return c.required ? fail(c, "required") : undefined;
    try {
      return JSON.parse(ta.value);
    } catch {
      return fail(c, "not valid JSON");
    }
  };
  return { el: wrap(c, ta), read };
}

/** Booleans, constants, enums: one control each. @param {any} schema @param {Ctx} c @param {any} value @returns {Field | undefined} */
function simpleField(schema, c, value) {
  if (schema.type === "boolean") {
    const cb = h("input", {
      ...common(c),
      type: "checkbox",
      checked: Boolean(value ?? schema.default ?? false),
    });
    return { el: wrap(c, cb), read: () => cb.checked };
  }
  if (schema.const !== undefined)
    return {
      el: wrap(c, h("output", { id: c.id }, h("code", {}, JSON.stringify(schema.const)))),
      read: () => schema.const,
    };
  if (Array.isArray(schema.enum)) {
    const sel = h(
      "select",
      common(c),
      h("option", { value: "" }, c.required ? "choose…" : "(default)"),
      schema.enum.map((/** @type {string} */ v) => h("option", { value: v, selected: v === value }, v)),
    );
    return { el: wrap(c, sel), read: () => sel.value || (c.required ? fail(c, "required") : undefined) };
  }
  return undefined;
}

/** @param {any} schema @param {Ctx} c @param {any} value @returns {Field | undefined} */
function stringField(schema, c, value) {
  if (schema.type === "string") {
    const placeholder = schema.default !== undefined ? String(schema.default) : "";
    const input = h("input", { ...common(c), value: value ?? "", placeholder, size: 32 });
    return {
      el: wrap(c, input),
      read: () => input.value.trim() || (c.required ? fail(c, "required") : undefined),
    };
  }
  return undefined;
}

/**
 * A form field for a JSON Schema node.
 * @param {any} schema @param {string} name @param {string[]} path @param {boolean} required @param {any} value
 * @returns {Field}
 */
export function field(schema, name, path, required, value) {
  const id = `f-${path.join("-") || "root"}`;
  const hint = [
    schema.description,
    schema.default !== undefined ? `default: ${JSON.stringify(schema.default)}` : "",
  ]
    .filter(Boolean)
    .join(" — ");
  /** @type {Ctx} */
  const c = { id, hintId: `${id}-hint`, hint, name, path, required };
  if (schema.oneOf || schema.anyOf) return variantField(schema, c, value);
  if (schema.type === "object" && schema.properties) return objectField(schema, c, value);
  if (schema.type === "object") return mapField(c, value);
  if (schema.type === "array" && schema.items?.type === "string") return listField(c, value);
  const simple = simpleField(schema, c, value);
  if (simple) return simple;
  if (schema.type === "integer" || schema.type === "number") return numberField(schema, c, value);
  return stringField(schema, c, value) ?? jsonField(c, value);
}
