/**
 * A temporary dir for one test file (or describe block), removed after its tests: keys, exports
 * and data dirs made under it are not left in the system's temp dir by every run. Call it where
 * `afterAll` may be called (a file's top level or a describe block), not inside a test.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "vitest";

export function testTempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
