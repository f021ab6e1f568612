/**
 * The Slack acknowledgement's cold start (issue 22, bench/chatops): its module init loads none of
 * the built-ins that make most of a cold start and that it does not use. Node records every
 * built-in it loads (`process.moduleLoadList`), so a fresh process importing the bundle says
 * what the init cost, not a timing.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import esbuild from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const dir = mkdtempSync(join(tmpdir(), "reflex-slack-cold-"));
let loaded: string[] = [];

beforeAll(async () => {
  // Bundled as the stacks bundle a function (esm, node, one file per entry).
  await esbuild.build({
    entryPoints: { slack: join(import.meta.dirname, "slack.ts") },
    bundle: true,
    platform: "node",
    format: "esm",
    target: "esnext",
    mainFields: ["module", "main"],
    outExtension: { ".js": ".mjs" },
    outdir: dir,
    logLevel: "silent",
  });
  const url = pathToFileURL(join(dir, "slack.mjs")).href;
  const child = spawnSync(
    process.execPath,
    [
      "--input-type=module",
      "-e",
      `await import(${JSON.stringify(url)}); process.stdout.write(JSON.stringify(process.moduleLoadList));`,
    ],
    {
      env: { PATH: process.env.PATH ?? "", REFLEX_SLACK_WORKER: "reflex-test-chatops-worker" },
      encoding: "utf8",
    },
  );
  expect(child.status, child.stderr).toBe(0);
  loaded = JSON.parse(child.stdout) as string[];
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the acknowledgement's module init", () => {
  it("is measured on a real import (the bundle loads the signature's crypto)", () => {
    expect(loaded).toContain("NativeModule crypto");
  });

  it("does not load undici (fetch), which an ES import of node:http pulls in with every export", () => {
    expect(loaded.filter((m) => /undici/.test(m))).toEqual([]);
  });

  it("does not load TLS until a request goes to an https endpoint", () => {
    expect(loaded.filter((m) => /\b(tls|https|_tls_wrap)\b/.test(m))).toEqual([]);
  });
});
