/**
 * Local mode in a process that goes on after it: a start that fails, and a stop, leave nothing
 * running behind them — no server or store listening, no scheduled job, no timer — so the
 * process can exit, and another local mode can start in it (test files share a process). The
 * client factory keeps the stopped guard (nothing may be sent once the endpoints are gone) until
 * the next start or `Aws.configure` replaces it.
 */
import { Runbooks } from "@reflex/core";
import { scheduledJobs } from "croner";
import { describe, expect, it } from "vitest";
import { startTestLocal } from "./support/local.ts";
import { goesNowhere } from "./support/runbooks.ts";

/** What keeps the event loop alive, by kind (listening servers, sockets, timers). */
function open(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) counts[kind] = (counts[kind] ?? 0) + 1;
  return counts;
}

/** The kinds of which more are open now than `before`, with how many more. */
function grown(before: Record<string, number>): Record<string, number> {
  return Object.fromEntries(
    Object.entries(open())
      .map(([kind, n]) => [kind, n - (before[kind] ?? 0)] as const)
      .filter(([, more]) => more > 0),
  );
}

describe("local mode in a process that goes on", () => {
  it("leaves no server, store, scheduled job or timer once stopped", async () => {
    const before = open();
    const local = await startTestLocal({
      schedules: [
        {
          name: "nightly",
          cron: "cron(0 3 * * ? *)",
          run: "backup-snapshot",
          with: { selector: { tag: { Backup: "daily" } } },
        },
      ],
    });
    expect(scheduledJobs.map((j) => j.name)).toContain("reflex-audit-sealer");

    await local.stop();

    expect(scheduledJobs.map((j) => j.name)).toEqual([]);
    // A closed server's handle is let go of on the event loop's next turn: waited for, not slept.
    await expect.poll(() => grown(before), { timeout: 5_000 }).toEqual({});
  });

  it("closes what it opened when a runbook's state machine is refused at start", async () => {
    const before = open();
    try {
      await expect(startTestLocal({ runbooks: [goesNowhere] })).rejects.toThrow(/reflex-local-goes-nowhere/);
    } finally {
      Runbooks.unregister(goesNowhere.name);
    }

    await expect.poll(() => grown(before), { timeout: 5_000 }).toEqual({});
    expect(scheduledJobs).toEqual([]);
  });
});
