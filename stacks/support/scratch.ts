/**
 * Apps and stacks for stack tests that read a template or resolve tokens: their cloud assembly
 * goes to one temporary dir per test file, removed after its tests. A bare `new App()` (a
 * `cdk.out*` dir) or `new Stack()` (a `cdk-test-app-*` dir) makes a dir in the system's temp dir
 * each time, and nothing removes it. Call it at the top of a file or a describe block: it
 * registers the `afterAll` that removes the dir.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App, Stack, type StackProps } from "aws-cdk-lib";
import { afterAll } from "vitest";

export function scratchApps(): { app(): App; stack(id?: string, props?: StackProps): Stack } {
  const root = mkdtempSync(join(tmpdir(), "reflex-cdk-"));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const app = () => new App({ outdir: mkdtempSync(join(root, "app-")) });
  return { app, stack: (id = "Scratch", props) => new Stack(app(), id, props) };
}
