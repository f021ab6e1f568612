/**
 * A property of the gate: however deliveries are repeated and interleaved, each distinct
 * happening is decided once — a run per matching transition, no-match for the rest — and every
 * other delivery is a duplicate.
 */
import { randomUUID } from "node:crypto";
import { Gate, validateConfig } from "@reflex/core";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LocalMode } from "../packages/local/src/local-mode.ts";
import { alarmEvent } from "./support/events.ts";
import { startTestLocal } from "./support/local.ts";

const raw = {
  rules: [
    {
      name: "any-alarm",
      on: { source: ["aws.cloudwatch"], detail: { state: { value: ["ALARM"] } } },
      run: "backup-snapshot",
      with: { selector: { tag: { Backup: "daily" } } },
      cooldown: "0s",
      dryRun: true,
    },
  ],
  guardrails: { rateLimit: { runs: 100_000, per: "1h" } },
};
const config = validateConfig(raw);
let local: LocalMode;
beforeAll(async () => {
  local = await startTestLocal(raw);
});
afterAll(async () => local?.stop());

const transition = fc.record({
  alarm: fc.integer({ min: 0, max: 3 }),
  state: fc.constantFrom("ALARM" as const, "OK" as const),
  minute: fc.integer({ min: 0, max: 59 }),
  deliveries: fc.integer({ min: 1, max: 4 }),
});

describe("the gate under redelivery", () => {
  it("decides each distinct happening once, whatever the order and repetition", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(transition, { minLength: 1, maxLength: 12 }),
        fc.nat(),
        async (transitions, seed) => {
          const run = randomUUID().slice(0, 8);
          const distinct = new Map<
            string,
            { state: string; event: ReturnType<typeof alarmEvent>; deliveries: number }
          >();
          for (const t of transitions) {
            const key = `${t.alarm}|${t.state}|${t.minute}`;
            const at = new Date(Date.UTC(2026, 10, 28, 10, t.minute));
            const prior = distinct.get(key);
            if (prior)
              prior.deliveries += t.deliveries; // the same transition, delivered more
            else
              distinct.set(key, {
                state: t.state,
                event: alarmEvent(`prop-${run}-${t.alarm}`, t.state, at),
                deliveries: t.deliveries,
              });
          }
          const deliveries = [...distinct.values()].flatMap((d) =>
            Array.from({ length: d.deliveries }, () => d.event),
          );
          // a seeded shuffle, then all at once
          let s = seed;
          for (let i = deliveries.length - 1; i > 0; i--) {
            s = (s * 1_103_515_245 + 12_345) % 2 ** 31;
            const j = s % (i + 1);
            [deliveries[i], deliveries[j]] = [deliveries[j], deliveries[i]];
          }
          // A delivery that meets another's unfinished claim is told to retry (in-progress);
          // like EventBridge, send those again until each has a final answer.
          let pending = deliveries;
          const decisions: Gate.Decision[] = [];
          for (let round = 0; pending.length > 0 && round < 50; round++) {
            const answers = await Promise.all(pending.map((e) => Gate.handleEvent(e, { config })));
            pending = pending.filter((_, i) => answers[i].some((d) => d.decision === "in-progress"));
            decisions.push(...answers.flat().filter((d) => d.decision !== "in-progress"));
          }
          expect(pending).toHaveLength(0);
          const count = (kind: string) => decisions.filter((d) => d.decision === kind).length;
          const alarms = [...distinct.values()].filter((d) => d.state === "ALARM").length;
          expect(count("started")).toBe(alarms);
          expect(count("no-match")).toBe(distinct.size - alarms);
          expect(count("duplicate")).toBe(deliveries.length - distinct.size);
        },
      ),
      { numRuns: 12 },
    );
    await local.idle();
  });
});
