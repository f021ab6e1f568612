import { describe, expect, it, vi } from "vitest";
import { SlackWork } from "./slack-work.ts";

/** A few turns of the event loop: queued work that may start would have started by then. */
const turns = async (n = 3) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

describe("Slack work in local mode", () => {
  it("does not start while an acknowledgement is being answered, and starts once none is", async () => {
    const started: number[] = [];
    const work = new SlackWork(async (n: number) => void started.push(n));
    let answer!: () => void;
    const acknowledging = work.acknowledging(() => new Promise<void>((r) => (answer = r)));

    expect(work.add(1)).toBe(true);
    await turns();
    expect({ started, queued: work.queued }).toEqual({ started: [], queued: 1 });

    answer();
    await acknowledging;
    await vi.waitFor(() => expect(started).toEqual([1]));
  });

  it("runs the work a burst of acknowledgements queued once the last is answered, at most two at a time", async () => {
    const running = new Set<number>();
    let most = 0;
    const release: Array<() => void> = [];
    const work = new SlackWork(async (n: number) => {
      running.add(n);
      most = Math.max(most, running.size);
      await new Promise<void>((r) => release.push(r));
      running.delete(n);
    });
    const answers: Array<() => void> = [];
    const acks = Array.from({ length: 5 }, (_, i) =>
      work.acknowledging(async () => {
        work.add(i);
        await new Promise<void>((r) => answers.push(r));
      }),
    );
    await vi.waitFor(() => expect(answers).toHaveLength(5));
    for (const a of answers.slice(0, 4)) a();
    await Promise.all(acks.slice(0, 4));
    await turns();
    expect(running.size).toBe(0); // the fifth is still being answered

    answers[4]();
    await vi.waitFor(() => expect(running.size).toBe(2));
    for (let finished = 0; finished < 5; finished++) {
      await vi.waitFor(() => expect(release.length).toBeGreaterThan(0));
      release.shift()?.();
    }
    await work.stop();
    expect({ most, queued: work.queued, dropped: work.dropped }).toEqual({ most: 2, queued: 0, dropped: 0 });
  });
});
