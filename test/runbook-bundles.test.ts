/**
 * A runbook's manifest names its steps with a dynamic import (`implementation`), so what only
 * starts runs — the event gate, the API, the schedule handler — reads every manifest but never
 * loads a step or a cloud client a step uses. Bundled as SST bundles them (esm, code splitting),
 * the steps are chunks those handlers do not import.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { configRunbooks } from "../stacks/support/config-runbooks.ts";

interface Meta {
  outputs: Record<
    string,
    { imports: Array<{ path: string; kind: string }>; inputs: Record<string, unknown>; entryPoint?: string }
  >;
}

/** The source files a handler loads at cold start: its entry chunk and every chunk it imports statically. */
async function loadedAtStart(entry: string, configFile?: string): Promise<string[]> {
  const { default: esbuild } = await import("esbuild");
  const result = await esbuild.build({
    plugins: configFile ? [configRunbooks(() => configFile)] : [],
    entryPoints: [entry],
    bundle: true,
    platform: "node",
    format: "esm",
    splitting: true,
    metafile: true,
    write: false,
    outdir: "out",
    logLevel: "silent",
  });
  const { outputs } = result.metafile as Meta;
  const start = Object.keys(outputs).find((o) => outputs[o].entryPoint === entry);
  const seen = new Set<string>();
  const todo = start ? [start] : [];
  while (todo.length) {
    const out = todo.pop() as string;
    if (seen.has(out)) continue;
    seen.add(out);
    for (const i of outputs[out].imports)
      if (i.kind === "import-statement" && outputs[i.path]) todo.push(i.path);
  }
  return [...seen].flatMap((o) => Object.keys(outputs[o].inputs));
}

describe("the manifests' lazily loaded steps", () => {
  it("are split into chunks of their own by the deployed bundles", () => {
    expect(readFileSync("sst.config.ts", "utf8")).toMatch(/splitting: true/);
  });

  it.each([
    ["the event gate", "packages/functions/src/trigger.ts"],
    ["the API", "packages/functions/src/api.ts"],
  ])(
    "are not loaded by %s, nor the clients only steps use",
    async (_what, entry) => {
      const inputs = await loadedAtStart(entry);
      // It does read the manifests...
      expect(inputs).toContain("packages/core/src/runbooks/backup-snapshot/index.ts");
      // ...but no step, rollback or handler module, and not EC2's client, which only steps use.
      const steps = inputs.filter((i) => /runbooks\/[a-z-]+\/(steps|rollback|handlers)\.ts$/.test(i));
      expect(steps).toEqual([]);
      expect(inputs.filter((i) => i.includes("@aws-sdk/client-ec2/"))).toEqual([]);
    },
    60_000,
  );

  it("are loaded by the step worker", async () => {
    const { default: esbuild } = await import("esbuild");
    const result = await esbuild.build({
      entryPoints: ["packages/functions/src/step.ts"],
      bundle: true,
      platform: "node",
      format: "esm",
      splitting: true,
      metafile: true,
      write: false,
      outdir: "out",
      logLevel: "silent",
    });
    const all = Object.values((result.metafile as Meta).outputs).flatMap((o) => Object.keys(o.inputs));
    expect(all).toContain("packages/core/src/runbooks/backup-snapshot/steps.ts");
  }, 60_000);

  it("bundle a config's own runbooks into the functions: their manifests at start, their steps not", async () => {
    const inputs = await loadedAtStart(
      "packages/functions/src/trigger.ts",
      `${process.cwd()}/examples/runbooks/reflex.config.ts`,
    );
    expect(inputs).toContain("examples/runbooks/restart-service/index.ts");
    expect(inputs).not.toContain("examples/runbooks/restart-service/steps.ts");
    expect(inputs).not.toContain("packages/functions/src/lib/no-config-runbooks.ts");
  }, 60_000);
});
