/**
 * Following a run as it goes: `run --wait`, `show --follow` and `logs --follow` poll the
 * execution and print what changed since the last look, until the run ends or the person
 * detaches (Ctrl-C), which never aborts the run.
 */
import type { ApiClient, ExecutionView, StepView } from "./client.ts";
import { isTerminal } from "./client.ts";
import { type Colours, status } from "./colour.ts";
import { formatAuditEntry, formatMs, formatStep } from "./format.ts";

const stepKey = (s: StepView) => `${s.state ?? s.step}|${s.target ?? ""}|${s.startedAt ?? ""}`;

/**
 * Polls the run until it ends (returns it) or `signal` aborts (returns undefined: detached).
 * `onUpdate` sees every poll's view, the first one included.
 */
export async function follow(
  api: ApiClient,
  id: string,
  onUpdate: (e: ExecutionView) => void,
  opts: { signal?: AbortSignal; intervalMs?: number; timeoutMs?: number } = {},
): Promise<ExecutionView | undefined> {
  const deadline = Date.now() + (opts.timeoutMs ?? 24 * 3600_000);
  const interval = opts.intervalMs ?? 400;
  for (;;) {
    if (opts.signal?.aborted) return undefined;
    const e = await api.getExecution(id);
    if (opts.signal?.aborted) return undefined;
    onUpdate(e);
    if (isTerminal(e.status)) return e;
    if (Date.now() > deadline) throw new Error(`execution ${id} still ${e.status}; stopped following it`);
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(t);
        opts.signal?.removeEventListener("abort", done);
        resolve();
      };
      const t = setTimeout(done, interval);
      opts.signal?.addEventListener("abort", done, { once: true });
    });
  }
}

/**
 * One line per step transition (started, then ended) and per change of the run's status. On a
 * terminal (`fold`), a polling state's repeats (checkSnapshots, checkReady…) rewrite the line
 * above with a count instead of adding hundreds of lines; in a pipe every transition is a line.
 */
export class StepProgress {
  private readonly seen = new Map<string, string>();
  private status?: string;
  private last?: { step: string; target: string; status: string; times: number; totalMs: number };

  constructor(
    private readonly c: Colours,
    private readonly fold = false,
  ) {}

  lines(e: ExecutionView): string[] {
    const out: string[] = [];
    for (const s of e.steps ?? []) {
      const key = stepKey(s);
      if (this.seen.get(key) === s.status) continue;
      this.seen.set(key, s.status);
      const l = this.last;
      if (
        this.fold &&
        l &&
        l.step === s.step &&
        l.target === (s.target ?? "") &&
        l.status === s.status &&
        s.status === "SUCCEEDED"
      ) {
        l.times++;
        l.totalMs += s.durationMs ?? 0;
        // Up one line, clear it, and write the folded line in its place.
        out.push(
          `\u001b[1A\u001b[2K  ${formatStep({ ...s, step: `${s.step} ×${l.times}`, durationMs: l.totalMs }, this.c)} in all`,
        );
        continue;
      }
      this.last = {
        step: s.step,
        target: s.target ?? "",
        status: s.status,
        times: 1,
        totalMs: s.durationMs ?? 0,
      };
      out.push(`  ${formatStep(s, this.c)}`);
    }
    // The run's own status, after the steps that led to it.
    if (e.status !== this.status) {
      if (this.status !== undefined || e.status !== "RUNNING") {
        this.last = undefined;
        out.push(
          `  ${this.c.dim("run")} ${e.status === "WAITING_FOR_APPROVAL" ? `waits for approval: reflex approve ${e.id}` : status(this.c, e.status)}`,
        );
      }
      this.status = e.status;
    }
    return out;
  }
}

export interface LogLine {
  at: string;
  kind: "step" | "audit";
  text: string;
  /** The same line as data, for `--json`. */
  data: Record<string, unknown>;
}

/** A run as chronological lines: steps started and ended, audit entries; each printed once. */
export class RunLog {
  private readonly printed = new Set<string>();

  constructor(private readonly c: Colours) {}

  /** The lines not printed before, oldest first. */
  next(e: ExecutionView): LogLine[] {
    const lines: Array<LogLine & { key: string }> = [];
    for (const s of e.steps ?? []) {
      const key = stepKey(s);
      const target = s.target ? ` ${s.target}` : "";
      if (s.startedAt)
        lines.push({
          key: `S|${key}`,
          at: s.startedAt,
          kind: "step",
          text: `${this.c.cyan("…")} ${s.step}${target} started`,
          data: { event: "started", step: s.step, target: s.target ?? undefined },
        });
      if (s.status !== "RUNNING")
        lines.push({
          key: `E|${key}`,
          at: s.endedAt ?? s.startedAt ?? e.startedAt,
          kind: "step",
          text:
            s.status === "FAILED"
              ? `${this.c.red("✗")} ${s.step}${target} ${this.c.red("failed")} after ${formatMs(s.durationMs)}: ${s.error ?? "error"}${s.cause ? `: ${s.cause}` : ""}`
              : `${this.c.green("✓")} ${s.step}${target} succeeded in ${formatMs(s.durationMs)}`,
          data: {
            event: s.status === "FAILED" ? "failed" : "succeeded",
            step: s.step,
            target: s.target ?? undefined,
            durationMs: s.durationMs,
            error: s.error ?? undefined,
            cause: s.cause ?? undefined,
          },
        });
    }
    for (const a of e.audit ?? [])
      lines.push({
        key: `A|${a.id ?? `${a.at}|${a.kind}|${a.reason}`}`,
        at: a.at,
        kind: "audit",
        text: formatAuditEntry(a, this.c).slice(a.at.length + 2),
        data: { ...a },
      });
    const fresh = lines.filter((l) => !this.printed.has(l.key));
    for (const l of fresh) this.printed.add(l.key);
    return fresh.sort((a, b) => a.at.localeCompare(b.at)).map(({ key: _key, ...l }) => l);
  }
}
