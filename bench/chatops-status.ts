/**
 * bench/chatops-status: `/reflex status` through the local server, with few and with many runs
 * stored, in one run. `npx tsx bench/run.ts chatops-status`
 *
 * Local mode in-process (the same acknowledgement code as the Lambda; the work runs in this
 * process after the answer, as the worker Lambda would), with two state tables in its dynalite:
 * one holding 5 runs, one holding 1,000 (one running, the rest ended). The rounds alternate
 * between them (A B B A …, the table switched through `REFLEX_TABLE` once the previous round's
 * work has all answered), so a change in the machine's load hits both alike. Each round sends
 * signed `/reflex status` requests, `SEQUENTIAL` one after another (the next sent when the
 * previous is acknowledged, so earlier work overlaps later acks) and one burst of 10 at once;
 * `ackMs` is request sent → acknowledgement read, `answer` request sent → the worker's reply
 * reaching the response_url (the outbox), `trivialGetP50Ms` a `GET /api/outbox?limit=1` in the
 * same rounds. The last figure is the ratio of the p50s (target ≤ 1.5: status reads what is
 * running, not the history).
 */
import { pathToFileURL } from "node:url";
import { ChatOps, Executions, tableName } from "@reflex/core";
import type { LocalMode } from "../packages/local/src/local-mode.ts";
import { ensureTable } from "../packages/local/src/storage.ts";
import { startTestLocal } from "../test/support/local.ts";

const SECRET = "bench-status-secret";
const ROUNDS = Number(process.env.BENCH_STATUS_ROUNDS ?? 6);
const SEQUENTIAL = 10;
const BURST = 10;
const MANY = 1000;
const FEW = 5;

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return Number(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))].toFixed(1));
};

let seq = 0;

/** `n` runs in the table in force: the first stays running, the rest have ended. */
async function seed(n: number): Promise<void> {
  const base = Date.now() - 86_400_000;
  for (let i = 0; i < n; i++) {
    const id = `bench-status-${String(i).padStart(4, "0")}`;
    await Executions.create(
      {
        id,
        runbook: i % 2 ? "scale" : "backup-snapshot",
        dryRun: false,
        params: { autoScalingGroup: "web", change: "+1" },
        trigger: { kind: "manual", actor: "bench" },
      },
      new Date(base + i * 60_000),
    );
    if (i > 0) await Executions.complete(id, { status: "SUCCEEDED" }, new Date(base + i * 60_000 + 5_000));
  }
}

interface Samples {
  sequential: number[];
  concurrent: number[];
  answers: number[];
  gets: number[];
  /** The trivial GET sent with the burst, at the same moment. */
  getsInBurst: number[];
}

/** One round against the table in force; returns once every request's work has answered. */
async function round(local: LocalMode, into: Samples, sequential = SEQUENTIAL): Promise<void> {
  const answered = new Map<string, number>();
  const respond = local.outbox.respond.bind(local.outbox);
  local.outbox.respond = async (url, m) => {
    answered.set(url, performance.now());
    return respond(url, m);
  };
  const sent = new Map<string, number>();
  const ack = async (): Promise<number> => {
    const url = `https://hooks.slack.com/commands/bench/${++seq}`;
    const body = new URLSearchParams({
      user_id: "UBENCH",
      channel_id: "CBENCH",
      text: "status",
      trigger_id: `bench.${seq}`,
      response_url: url,
    }).toString();
    const ts = Math.floor(Date.now() / 1000);
    const t0 = performance.now();
    sent.set(url, t0);
    const res = await fetch(`${local.url}/slack/commands`, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        "x-slack-request-timestamp": String(ts),
        "x-slack-signature": ChatOps.Signature.sign(SECRET, ts, body),
      },
      body,
    });
    await res.text();
    if (res.status !== 200) throw new Error(`ack ${res.status}`);
    return performance.now() - t0;
  };
  const get = async (): Promise<number> => {
    const t0 = performance.now();
    const res = await fetch(`${local.url}/api/outbox?limit=1`);
    await res.text();
    return performance.now() - t0;
  };
  for (let i = 0; i < sequential; i++) {
    into.sequential.push(await ack());
    if (i % 3 === 0) into.gets.push(await get());
  }
  const [burst, inBurst] = await Promise.all([Promise.all(Array.from({ length: BURST }, ack)), get()]);
  into.concurrent.push(...burst);
  into.getsInBurst.push(inBurst);
  into.gets.push(await get());
  // Every request's work answered before the table is switched (state, not time).
  while (answered.size < sent.size) await new Promise((r) => setImmediate(r));
  local.outbox.respond = respond;
  into.answers.push(...[...sent].map(([url, t0]) => (answered.get(url) as number) - t0));
}

const summary = (stored: number, s: Samples) => ({
  figure: "chatops-status-ack",
  runsStored: stored,
  running: 1,
  rounds: ROUNDS,
  sequential: { requests: s.sequential.length, p50Ms: pct(s.sequential, 50), p99Ms: pct(s.sequential, 99) },
  concurrent10: { requests: s.concurrent.length, p50Ms: pct(s.concurrent, 50), p99Ms: pct(s.concurrent, 99) },
  answer: { p50Ms: pct(s.answers, 50), p99Ms: pct(s.answers, 99) },
  trivialGetP50Ms: pct(s.gets, 50),
  trivialGetInBurst: { p50Ms: pct(s.getsInBurst, 50), p99Ms: pct(s.getsInBurst, 99) },
});

export async function chatopsStatusBench(): Promise<Array<Record<string, unknown>>> {
  process.env.SLACK_SIGNING_SECRET = SECRET;
  const local = await startTestLocal({});
  // Local mode names its table (REFLEX_TABLE) as it starts.
  const few = tableName();
  const many = `${few}-history`;
  try {
    await ensureTable(local.storage.dynamoEndpoint, "us-east-1", many);
    await seed(FEW);
    process.env.REFLEX_TABLE = many;
    await seed(MANY);
    const samples = new Map<string, Samples>();
    for (const t of [few, many])
      samples.set(t, { sequential: [], concurrent: [], answers: [], gets: [], getsInBurst: [] });
    // Warm-up (JIT, connections) on both, not counted.
    for (const t of [few, many]) {
      process.env.REFLEX_TABLE = t;
      await round(local, { sequential: [], concurrent: [], answers: [], gets: [], getsInBurst: [] }, 5);
    }
    for (let r = 0; r < ROUNDS; r++)
      for (const t of r % 2 ? [many, few] : [few, many]) {
        process.env.REFLEX_TABLE = t;
        await round(local, samples.get(t) as Samples);
      }
    const a = summary(FEW, samples.get(few) as Samples);
    const b = summary(MANY, samples.get(many) as Samples);
    const ratio = (x: number, y: number) => Number((y / x).toFixed(2));
    const seqRatio = ratio(a.sequential.p50Ms, b.sequential.p50Ms);
    const burstRatio = ratio(a.concurrent10.p50Ms, b.concurrent10.p50Ms);
    return [
      a,
      b,
      {
        figure: "chatops-status-ratio",
        note: `ack p50 with ${MANY} runs stored / with ${FEW}, rounds interleaved in one run`,
        sequentialP50Ratio: seqRatio,
        concurrent10P50Ratio: burstRatio,
        answerP50Ratio: ratio(a.answer.p50Ms, b.answer.p50Ms),
        // The burst's acks against a trivial GET of the same server in the same rounds (issue
        // 22: it was 10×, the work of earlier commands sharing the process with later acks).
        concurrent10AckOverTrivialGet: ratio(a.trivialGetP50Ms, a.concurrent10.p50Ms),
        concurrent10AckP99OverTrivialGet: ratio(a.trivialGetP50Ms, a.concurrent10.p99Ms),
        concurrent10AckOverTrivialGetInBurst: ratio(a.trivialGetInBurst.p50Ms, a.concurrent10.p50Ms),
        target: 1.5,
        withinTarget: seqRatio <= 1.5 && burstRatio <= 1.5,
      },
    ];
  } finally {
    process.env.REFLEX_TABLE = few;
    await local.stop();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  for (const f of await chatopsStatusBench()) process.stdout.write(`${JSON.stringify(f)}\n`);
  process.exit(0);
}
