/**
 * The layers of core, read from the code's own imports (TypeScript's parser, no type check):
 * adapters (the gate, ChatOps, the HTTP API) above admission, admission above runs and policy,
 * those above state; the private start reached only from admission; every table item written
 * through `state/`. A move that breaks one of these fails here, naming the file and the import.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "..");
const CORE = "packages/core/src";

function sources(dir: string): string[] {
  if (!existsSync(join(ROOT, dir))) return [];
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const path = `${dir}/${e.name}`;
    if (e.name === "node_modules" || e.name.startsWith(".")) return [];
    if (e.isDirectory()) return sources(path);
    return /\.(ts|js)$/.test(e.name) && !e.name.endsWith(".d.ts") ? [path] : [];
  });
}

const ALL = ["packages", "stacks", "test", "bench", "examples"].flatMap(sources);
const isTest = (f: string) => /\.test\.ts$/.test(f) || f.startsWith("test/");

/** What `@reflex/core` and its named entry points resolve to (package.json `exports`). */
const coreExports = JSON.parse(readFileSync(join(ROOT, "packages/core/package.json"), "utf8"))
  .exports as Record<string, string>;

/** The repository file a module specifier names, when it is one of ours. */
function resolveSpecifier(from: string, spec: string): string | undefined {
  if (spec.startsWith(".")) return relative(ROOT, resolve(ROOT, dirname(from), spec));
  if (spec === "@reflex/core" || spec.startsWith("@reflex/core/")) {
    const target = coreExports[`.${spec.slice("@reflex/core".length)}`];
    return target ? join("packages/core", target) : undefined;
  }
  return undefined;
}

interface Import {
  spec: string;
  file?: string;
  names: string[];
  typeOnly: boolean;
}

/** Every static import, re-export, dynamic `import("...")` and `require("...")` of a file. */
function importsOf(file: string): Import[] {
  const text = readFileSync(join(ROOT, file), "utf8");
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false);
  const out: Import[] = [];
  const add = (spec: string, names: string[], typeOnly: boolean) =>
    out.push({ spec, file: resolveSpecifier(file, spec), names, typeOnly });
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const names: string[] = [];
      const bindings = clause?.namedBindings;
      if (bindings && ts.isNamedImports(bindings))
        for (const el of bindings.elements) names.push((el.propertyName ?? el.name).text);
      if (bindings && ts.isNamespaceImport(bindings)) names.push("*");
      if (clause?.name) names.push("default");
      add(node.moduleSpecifier.text, names, Boolean(clause?.isTypeOnly));
    } else if (
      ts.isExportDeclaration(node) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      const names =
        node.exportClause && ts.isNamedExports(node.exportClause)
          ? node.exportClause.elements.map((el) => (el.propertyName ?? el.name).text)
          : ["*"];
      add(node.moduleSpecifier.text, names, node.isTypeOnly);
    } else if (
      ts.isCallExpression(node) &&
      (node.expression.kind === ts.SyntaxKind.ImportKeyword ||
        (ts.isIdentifier(node.expression) && node.expression.text === "require")) &&
      node.arguments[0] &&
      ts.isStringLiteralLike(node.arguments[0])
    ) {
      add(node.arguments[0].text, ["*"], false);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

const IMPORTS = new Map(ALL.map((f) => [f, importsOf(f)]));

describe("the private start", () => {
  const RUNS = `${CORE}/runs.ts`;
  /** Who may import runs.ts itself, and why. */
  const ALLOWED: Record<string, string> = {
    [`${CORE}/admission/index.ts`]: "admission: the one caller of Runs.start",
    [`${CORE}/runs-api.ts`]: "re-exports everything of runs.ts but start, for the rest of the code",
    "bench/admission.ts": "measures admission against the bare start it wraps (a benchmark, not a door)",
    "test/reconcile.test.ts":
      "races two bare starts of one id (one refused by the rate limit) to check the locks each gives back (a test, not a door)",
  };

  it("is imported only by admission (and runs-api, which leaves start out)", () => {
    const importers = ALL.filter((f) => IMPORTS.get(f)?.some((i) => i.file === RUNS));
    expect(importers.filter((f) => !(f in ALLOWED))).toEqual([]);
    expect(importers).toContain(`${CORE}/admission/index.ts`);
  });

  it("is not handed on by runs-api, nor by any file core's package exports", () => {
    const reexports = IMPORTS.get(`${CORE}/runs-api.ts`)?.filter((i) => i.file === RUNS) ?? [];
    expect(reexports.length).toBeGreaterThan(0);
    for (const r of reexports) {
      expect(r.names).not.toContain("*");
      expect(r.names).not.toContain("start");
    }
    for (const target of Object.values(coreExports)) {
      const file = join("packages/core", target);
      expect(
        IMPORTS.get(file)?.filter((i) => i.file === RUNS),
        `${file} (exported by @reflex/core) imports runs.ts`,
      ).toEqual([]);
    }
  });

  it("is out of reach of core's named entry points (all but the index), however deep they import", () => {
    const reaches = (from: string, seen = new Set<string>()): boolean => {
      if (from === RUNS) return true;
      if (seen.has(from)) return false;
      seen.add(from);
      return (IMPORTS.get(from) ?? []).some((i) => !i.typeOnly && i.file && reaches(i.file, seen));
    };
    const entries = Object.entries(coreExports).filter(([path]) => path !== ".");
    expect(entries.length).toBeGreaterThan(0);
    for (const [path, target] of entries)
      expect(reaches(join("packages/core", target)), `@reflex/core${path.slice(1)} reaches runs.ts`).toBe(
        false,
      );
  });

  it("is called in admission alone, in admit", () => {
    const text = readFileSync(join(ROOT, CORE, "admission/index.ts"), "utf8");
    const calls = [...text.matchAll(/\bRuns\.start\(/g)];
    expect(calls).toHaveLength(1);
  });
});

describe("table items", () => {
  const STATE = `${CORE}/state/`;
  /** Item commands: what reads or writes an item (creating the table is the stacks' and local mode's). */
  const ITEM_COMMAND =
    /^(Get|Put|Update|Delete|Query|Scan|BatchGet|BatchWrite|TransactGet|TransactWrite)(Item)?Command(Input|Output)?$|^paginate(Query|Scan)$/;
  /** Files outside state/ allowed an item command, and why. */
  const ALLOWED: Record<string, string> = {
    [`${CORE}/chatops/replay.ts`]:
      "the Slack replay guard on the acknowledgement path: one PutItem on the plain client, so the ack bundle carries neither state/db.ts nor the document client",
  };
  const production = ALL.filter((f) => f.startsWith("packages/") && !isTest(f) && !f.startsWith(STATE));

  it("are read and written through state/ alone: no db().send outside it", () => {
    const raw = production.filter((f) => /\bdb\(\)\s*\.?\s*send\(/.test(readFileSync(join(ROOT, f), "utf8")));
    expect(raw).toEqual([]);
  });

  it("are reached through named state functions: nothing outside state/ imports state/db.ts or an item command", () => {
    const offenders: string[] = [];
    for (const f of production) {
      if (f in ALLOWED) continue;
      for (const i of IMPORTS.get(f) ?? []) {
        if (i.file === `${STATE}db.ts`) offenders.push(`${f} imports state/db.ts`);
        if (/^@aws-sdk\/(lib|client)-dynamodb$/.test(i.spec))
          for (const n of i.names.filter((n) => ITEM_COMMAND.test(n))) offenders.push(`${f} imports ${n}`);
      }
    }
    expect(offenders).toEqual([]);
  });
});

describe("the layers of core", () => {
  /** Lower rank, lower layer: a file may import its own layer and those below, never above. */
  const LAYERS: [string, number, (f: string) => boolean][] = [
    ["state", 0, (f) => f.startsWith(`${CORE}/state/`)],
    ["policy", 1, (f) => f.startsWith(`${CORE}/policy/`)],
    [
      "runs",
      2,
      (f) =>
        [`${CORE}/runs.ts`, `${CORE}/runs-api.ts`, `${CORE}/approvals.ts`, `${CORE}/steps.ts`].includes(f),
    ],
    ["admission", 3, (f) => f.startsWith(`${CORE}/admission/`)],
    ["adapter: gate", 4, (f) => f.startsWith(`${CORE}/gate/`)],
    ["adapter: chatops", 4, (f) => f.startsWith(`${CORE}/chatops/`)],
  ];
  const layerOf = (f: string) => LAYERS.find(([, , has]) => has(f));

  it("import one way: adapters -> admission -> runs -> policy -> state, and adapters not each other", () => {
    const wrong: string[] = [];
    for (const f of ALL.filter((f) => f.startsWith(`${CORE}/`) && !isTest(f))) {
      const from = layerOf(f);
      if (!from) continue;
      for (const i of IMPORTS.get(f) ?? []) {
        const to = i.file ? layerOf(i.file) : undefined;
        if (!to || to === from) continue;
        if (to[1] >= from[1]) wrong.push(`${f} (${from[0]}) imports ${i.file} (${to[0]})`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it("keeps config and runbooks below admission and the adapters", () => {
    const wrong: string[] = [];
    for (const f of ALL.filter(
      (f) => (f.startsWith(`${CORE}/config/`) || f.startsWith(`${CORE}/runbooks/`)) && !isTest(f),
    )) {
      for (const i of IMPORTS.get(f) ?? []) {
        const to = i.file ? layerOf(i.file) : undefined;
        if (to && to[1] >= 3) wrong.push(`${f} imports ${i.file} (${to[0]})`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it("gives the HTTP API no door through the gate or ChatOps: it names neither", () => {
    const api = readFileSync(join(ROOT, "packages/functions/src/api.ts"), "utf8");
    expect(api).not.toMatch(/\b(Gate|ChatOps)\./);
    const slack = ["slack.ts", "slack-worker.ts", "slack-notifier.ts"].map((f) =>
      readFileSync(join(ROOT, "packages/functions/src", f), "utf8"),
    );
    for (const text of slack) expect(text).not.toMatch(/\bGate\./);
    expect(readFileSync(join(ROOT, "packages/functions/src/trigger.ts"), "utf8")).not.toMatch(/\bChatOps\./);
  });
});
