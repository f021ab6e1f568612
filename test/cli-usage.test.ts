/** Bad values that only the command's implementation can judge are bad usage (exit 2), said as such. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Io } from "../packages/local/src/cli/io.ts";
import { main } from "../packages/local/src/cli/main.ts";

async function reflex(argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (s) => out.push(s), err: (s) => err.push(s), colour: false, tty: false };
  const code = await main(argv, io);
  return { code, stdout: out.join("\n"), stderr: err.join("\n") };
}

describe("values the implementation refuses", () => {
  it("reflex windows --count 0 exits 2 with the range and the usage hint", async () => {
    const ran = await reflex(["windows", "--config", "test/fixtures/windows.config.ts", "--count", "0"]);

    expect(ran.code).toBe(2);
    expect(ran.stderr).toContain("--count a whole number from 1 to 100");
    expect(ran.stderr).toContain("(add --help for usage and examples)");
  });

  it("reflex cloud seed --instances 0 exits 2 and writes no cloud", async () => {
    const dir = mkdtempSync(join(tmpdir(), "reflex-usage-"));
    try {
      const ran = await reflex(["cloud", "seed", "--instances", "0", "--data", dir]);

      expect(ran.code).toBe(2);
      expect(ran.stderr).toContain("--instances must be a whole number from 1 to 10000");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
