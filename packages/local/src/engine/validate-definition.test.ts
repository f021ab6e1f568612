import { randomUUID } from "node:crypto";
import { chmodSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StateMachine } from "aws-local-stepfunctions";
import { afterAll, describe, expect, it } from "vitest";
import { LocalStepFunctions } from "./local-sfn.ts";
import { type AslCheck, cacheKey, definitionValidator, enginesValidator } from "./validate-definition.ts";

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

describe("definitionValidator's cache directory (a shared temp dir)", () => {
  // Anyone may create a directory in /tmp: one that another user could write to (or a symlink
  // to one) must not vouch for a definition, else a file planted there runs an invalid one.
  // A stand-in check (the real one costs 0.3-1 s a call): it refuses, or accepts, and counts.
  const VERSION = "stand-in";
  const standIn = (isValid: boolean) => {
    let n = 0;
    const check: AslCheck = () => {
      n++;
      return { isValid, errorsText: () => "refused by the stand-in" };
    };
    return { check, version: VERSION, calls: () => n };
  };
  const planted = (dir: string, def: unknown) => writeFileSync(join(dir, cacheKey(VERSION, def)), "");

  it("trusts a directory only this user can write: a file planted in a world-writable one is ignored", () => {
    const dir = cacheDir();
    chmodSync(dir, 0o777);
    const def = invalid();
    planted(dir, def);
    const refuse = standIn(false);
    expect(() => definitionValidator({ ...refuse, cacheDir: dir }).validate(def)).toThrow(
      /State machine definition is invalid/,
    );
    expect(refuse.calls()).toBe(1);
    // Nor does it write there: the next valid definition is remembered in this process only.
    const accept = standIn(true);
    const v = definitionValidator({ ...accept, cacheDir: dir });
    const ok = valid();
    v.validate(ok);
    v.validate(ok);
    expect(accept.calls()).toBe(1);
    expect(readdirSync(dir)).toHaveLength(1);
  });

  it("does not follow a symlink for its directory", () => {
    const real = cacheDir();
    const link = join(cacheDir(), "link");
    symlinkSync(real, link);
    const def = invalid();
    planted(real, def);
    expect(() => definitionValidator({ ...standIn(false), cacheDir: link }).validate(def)).toThrow(
      /State machine definition is invalid/,
    );
  });

  it("still vouches from its own directory (mode 0700): a file there is taken as passed", () => {
    const dir = cacheDir();
    chmodSync(dir, 0o700);
    const def = valid();
    planted(dir, def);
    const accept = standIn(true);
    definitionValidator({ ...accept, cacheDir: dir }).validate(def);
    expect(accept.calls()).toBe(0);
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
