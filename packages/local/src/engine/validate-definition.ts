/**
 * The check aws-local-stepfunctions makes of every definition it is given (asl-validator, the
 * same version and options), made once per distinct definition instead of once per start.
 *
 * Why: asl-validator builds and compiles a new Ajv for every call, 0.3–1 s of CPU each, and local
 * mode registers every runbook's machine (and each Distributed Map's child) at every start: the
 * compiler was ~40 % of a `reflex start`'s CPU before it was ready. A definition that passed is
 * remembered by the hash of the validator's version, its options and the definition: in this
 * process, and across processes as an empty file named by that hash in a per-user directory of
 * the system's temp dir (as tsx caches its transforms), used only when that directory is this
 * user's own and no one else can write it. A definition that failed is never
 * remembered, so it is refused, with the library's own message, every time.
 */
import { createHash } from "node:crypto";
import { existsSync, lstatSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

export type AslCheck = (
  definition: unknown,
  options: { checkPaths: boolean; checkArn: boolean },
) => { isValid: boolean; errorsText: (separator?: string) => string };

/** The options local mode has always validated with. */
const OPTIONS = { checkPaths: true, checkArn: true };

/** asl-validator as aws-local-stepfunctions itself resolves it (it may hold its own version). */
export function enginesValidator(): { check: AslCheck; version: string } {
  const engine = createRequire(import.meta.url).resolve("aws-local-stepfunctions");
  const fromEngine = createRequire(engine);
  const main = fromEngine.resolve("asl-validator");
  let dir = dirname(main);
  while (!existsSync(join(dir, "package.json"))) dir = dirname(dir);
  const { version } = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { version: string };
  return { check: fromEngine("asl-validator") as AslCheck, version };
}

/** The name a definition that passed is remembered by: the validator's version, its options, the definition. */
export function cacheKey(version: string, definition: unknown): string {
  return createHash("sha256")
    .update(`asl-validator@${version}\n${JSON.stringify(OPTIONS)}\n${JSON.stringify(definition)}`)
    .digest("hex");
}

export interface DefinitionValidator {
  /** Throws, as the engine would, when the definition is invalid. */
  validate(definition: unknown): void;
}

/**
 * A validator that remembers what passed. `check` and `cacheDir` are for tests; `cacheDir: null`
 * remembers in this process only.
 */
export function definitionValidator(
  opts: { check?: AslCheck; version?: string; cacheDir?: string | null } = {},
): DefinitionValidator {
  const found = opts.check ? undefined : enginesValidator();
  const check = opts.check ?? (found as { check: AslCheck }).check;
  const version = opts.version ?? found?.version ?? "injected";
  const uid = process.getuid?.() ?? "user";
  const asked = opts.cacheDir === undefined ? join(tmpdir(), `reflex-asl-${uid}`) : opts.cacheDir;
  let trusted: boolean | undefined;
  const passed = new Set<string>();
  return {
    validate(definition) {
      const key = cacheKey(version, definition);
      if (passed.has(key)) return;
      trusted ??= asked !== null && ownDirectory(asked);
      const cacheDir = trusted ? asked : null;
      const file = cacheDir ? join(cacheDir, key) : undefined;
      if (file && existsSync(file)) {
        passed.add(key);
        return;
      }
      // On a copy: asl-validator writes a default QueryLanguage into every state it checks, and
      // a definition taken from the cache must run exactly as one checked now.
      const { isValid, errorsText } = check(structuredClone(definition), { ...OPTIONS });
      if (!isValid)
        throw new Error(`State machine definition is invalid, see error(s) below:\n ${errorsText("\n")}`);
      passed.add(key);
      if (file) {
        try {
          writeFileSync(file, "");
        } catch {
          // A cache that cannot be written only costs the next start the same check again.
        }
      }
    },
  };
}

/**
 * Whether `dir` may vouch for a definition: a directory (not a symlink) of this user that no one
 * else can write, made 0700 when missing. The temp dir is shared: another user could create the
 * directory first, or a symlink to one of theirs, and plant a file named by an invalid
 * definition's hash; then the disk cache is not used (this process still remembers).
 */
function ownDirectory(dir: string): boolean {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = lstatSync(dir);
    const uid = process.getuid?.();
    // Windows has no uid or POSIX modes here; its temp dir is the user's own (%LOCALAPPDATA%).
    if (uid === undefined) return st.isDirectory();
    return st.isDirectory() && st.uid === uid && (st.mode & 0o022) === 0;
  } catch {
    return false;
  }
}

let shared: DefinitionValidator | undefined;

/** The process's validator (the default cache). */
export function sharedValidator(): DefinitionValidator {
  shared ??= definitionValidator();
  return shared;
}
