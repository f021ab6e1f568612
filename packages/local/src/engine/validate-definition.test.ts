import { randomUUID } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StateMachine } from "aws-local-stepfunctions";
import { afterAll, describe, expect, it } from "vitest";
import { LocalStepFunctions } from "./local-sfn.ts";
import { type AslCheck, definitionValidator, enginesValidator } from "./validate-definition.ts";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function cacheDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "reflex-asl-test-"));
  dirs.push(dir);
  return dir;
}

/** The engine's own check, counted. */
function counted(): { check: AslCheck; calls: () => number; version: string } {
  const { check, version } = enginesValidator();
  let n = 0;
  return {
    check: (d, o) => {
      n++;
      return check(d, o);
    },
    calls: () => n,
    version,
  };
}

// A Comment of its own, so no earlier run's cache has seen this definition.
const valid = () => ({
  Comment: randomUUID(),
  StartAt: "A",
  States: { A: { Type: "Pass", Next: "B" }, B: { Type: "Succeed" } },
});
// `Next` names a state that does not exist.
const invalid = () => ({
  Comment: randomUUID(),
  StartAt: "A",
  States: { A: { Type: "Pass", Next: "Nowhere" } },
});

describe("definitionValidator", () => {
  it("accepts and refuses exactly what aws-local-stepfunctions' own check does, with its message", () => {
    const ours = definitionValidator({ cacheDir: null });
    for (const def of [valid(), invalid()]) {
      let engines: string | undefined;
      try {
        new StateMachine(structuredClone(def) as never, {
          validationOptions: { checkPaths: true, checkArn: true },
        });
      } catch (e) {
        engines = (e as Error).message;
      }
      let mine: string | undefined;
      try {
        ours.validate(def);
      } catch (e) {
        mine = (e as Error).message;
      }
      expect(mine).toBe(engines);
    }
  });

  it("checks a valid definition once across validators sharing a cache, and leaves it as it was", () => {
    const dir = cacheDir();
    const def = valid();
    const before = JSON.stringify(def);
    const first = counted();
    definitionValidator({ ...first, cacheDir: dir }).validate(def);
    definitionValidator({ ...first, cacheDir: dir }).validate(structuredClone(def));
    expect(first.calls()).toBe(1);
    expect(readdirSync(dir)).toHaveLength(1);
    // The validator writes a default QueryLanguage into what it checks; never into the caller's.
    expect(JSON.stringify(def)).toBe(before);
  });

  it("refuses an invalid definition every time: a failure is never remembered", () => {
    const dir = cacheDir();
    const def = invalid();
    const check = counted();
    const v = definitionValidator({ ...check, cacheDir: dir });
    expect(() => v.validate(def)).toThrow(/State machine definition is invalid/);
    expect(() => definitionValidator({ ...check, cacheDir: dir }).validate(def)).toThrow(/invalid/);
    expect(check.calls()).toBe(2);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("keys the cache by the validator's version: another version checks again", () => {
    const dir = cacheDir();
    const def = valid();
    const check = counted();
    definitionValidator({ ...check, cacheDir: dir }).validate(def);
    definitionValidator({ ...check, version: "0.0.0-other", cacheDir: dir }).validate(def);
    expect(check.calls()).toBe(2);
  });
});

describe("the local engine", () => {
  it("still refuses an invalid definition before it runs (checked through the shared validator)", () => {
    const engine = new LocalStepFunctions({
      region: "us-east-1",
      account: "000000000000",
      stepHandler: async () => ({}),
    });
    const { arn } = engine.register("bad", invalid() as never);
    expect(() => engine.validate(arn)).toThrow(/state machine bad: State machine definition is invalid/);
  });
});
