/**
 * Fuzzing the local server (issue 7): thousands of generated hostile requests across every
 * route — the JSON API, `POST /events`, the Step Functions and EventBridge JSON protocols on
 * `/`, the dashboard — in each class of bad input the hostile-SRE review found. Every answer
 * must come in time and be a 4xx with `{ error: { code, message } }` (or, for a read, a 2xx);
 * never a 5xx. No invalid request may start a run, and the server must be healthy after.
 *
 * Each class builds input that is invalid by construction (a valid request, then spoiled), so
 * "nothing started" is a real check: the config has a rule that would start a run for the
 * unspoiled alarm event, and the unspoiled API bodies are valid starts.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LocalMode } from "../packages/local/src/local-mode.ts";
import { alarmEvent } from "./support/events.ts";
import { type RawResponse, rawRequest } from "./support/http.ts";
import { api, startTestLocal } from "./support/local.ts";

/** Requests per generated batch (sent at once), and batches: 5,000+ requests in all. */
const BATCH = 50;
const RUNS = 103;
const REQUEST_TIMEOUT_MS = 15_000;

let local: LocalMode;
beforeAll(async () => {
  local = await startTestLocal({
    rules: [
      {
        name: "fuzz-alarm",
        on: {
          source: ["aws.cloudwatch"],
          "detail-type": ["CloudWatch Alarm State Change"],
          detail: { state: { value: ["ALARM"] } },
        },
        run: "backup-snapshot",
        with: { selector: { tag: { Backup: "daily" } } },
        dryRun: true,
      },
    ],
  });
});
afterAll(async () => {
  await local?.stop();
});

/** What a fuzzed request may be answered with. */
type Expect =
  | { kind: "client-error"; status?: number } // a 4xx (this one, when given) with an error body
  | { kind: "read" } // a 2xx or a 4xx: a read whose input may happen to be valid
  | { kind: "events-rejected" } // 200 with every decision `rejected`, or a 4xx
  | { kind: "aws-error" }; // an AWS JSON protocol answer: 2xx (a read) or 4xx with __type

interface FuzzRequest {
  class: string;
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  expect: Expect;
}

const JSON_HEADERS = { "content-type": "application/json" };
const json = (v: unknown) => JSON.stringify(v);

/** Valid bodies and events, to be spoiled. Starts are dry runs and would be accepted as they are. */
const validStart = () => ({ params: { autoScalingGroup: "web", change: "+1" }, dryRun: true });
const validBackup = () => ({ params: { selector: { tag: { Backup: "daily" } } }, dryRun: true });
const validAlarm = () => alarmEvent(`fuzz-${Math.random().toString(36).slice(2, 8)}`, "ALARM", new Date());

const text = fc.string({ maxLength: 40 });
const longText = (min: number, max: number) =>
  fc.tuple(fc.integer({ min, max }), fc.constantFrom("a", "é", "ж", "界", "🙂")).map(([n, c]) => c.repeat(n));
const forbiddenKey = fc.constantFrom("__proto__", "constructor", "prototype");

/** Malformed percent-encoding: a lone %, non-hex digits, truncated or invalid UTF-8 sequences. */
const badEscape = fc
  .tuple(
    fc.stringMatching(/^[a-z0-9-]{0,12}$/),
    fc.constantFrom("%", "%Z", "%ZZ", "%E0%A4%A", "%C0%80", "%FF", "%ED%A0%80", "%F8%88%80%80%80", "%e2%82"),
    fc.stringMatching(/^[a-z0-9-]{0,12}$/),
  )
  .map(([a, bad, b]) => `${a}${bad}${b}`);

/** Bytes that are not UTF-8 anywhere: stray continuation bytes, overlong forms, surrogates, 0xFF. */
const badUtf8 = fc.constantFrom(
  Buffer.from([0xff]),
  Buffer.from([0x80]),
  Buffer.from([0xc0, 0x80]),
  Buffer.from([0xe2, 0x82]),
  Buffer.from([0xed, 0xa0, 0x80]),
  Buffer.from([0xf4, 0x90, 0x80, 0x80]),
  Buffer.from([0xfe, 0xfe]),
);

/** A JSON text with a forbidden key planted in the object at `at` (a path of property names). */
function plantKey(value: Record<string, any>, at: string[], key: string, planted: unknown): string {
  const marker = "__fuzz_marker__";
  const copy = structuredClone(value);
  let node: Record<string, any> = copy;
  for (const p of at) {
    node[p] ??= {};
    node = node[p];
  }
  node[marker] = planted;
  return JSON.stringify(copy).replace(`"${marker}"`, JSON.stringify(key));
}

/** A valid body with invalid UTF-8 bytes inside one of its strings. */
function spoilUtf8(value: unknown, bytes: Buffer): Buffer {
  const textBody = JSON.stringify(value);
  const at = textBody.indexOf('":"') + 3; // inside the first string value
  return Buffer.concat([Buffer.from(textBody.slice(0, at)), bytes, Buffer.from(textBody.slice(at))]);
}

const cursorOf = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");

const classes: Array<{ weight: number; arbitrary: fc.Arbitrary<FuzzRequest> }> = [
  // 1. Malformed percent-encoding in path segments.
  {
    weight: 6,
    arbitrary: fc.tuple(badEscape, fc.constantFrom("execution", "start")).map(
      ([seg, route]): FuzzRequest =>
        route === "execution"
          ? {
              class: "percent",
              method: "GET",
              path: `/api/executions/${seg}`,
              expect: { kind: "client-error" },
            }
          : {
              class: "percent",
              method: "POST",
              path: `/api/runbooks/${seg}/executions`,
              headers: JSON_HEADERS,
              body: json(validStart()),
              expect: { kind: "client-error" },
            },
    ),
  },
  // 2. Garbage cursors: not base64, base64 of non-JSON, JSON of the wrong shape, a bad day.
  {
    weight: 8,
    arbitrary: fc
      .tuple(
        fc.constantFrom("/api/executions", "/api/audit"),
        fc.oneof(
          fc.string({ maxLength: 60 }).map(encodeURIComponent),
          fc.uint8Array({ maxLength: 60 }).map((b) => Buffer.from(b).toString("base64url")),
          fc.jsonValue({ maxDepth: 3 }).map(cursorOf),
          fc.record({ pk: fc.jsonValue({ maxDepth: 1 }), sk: fc.jsonValue({ maxDepth: 1 }) }).map(cursorOf),
          fc.record({ day: text }).map(cursorOf),
          fc
            .record({ day: fc.constantFrom("2026-02-30", "2026-13-01", "9999-99-99", "0000-00-00") })
            .map(cursorOf),
          longText(2049, 4000).map((s) => cursorOf({ pk: s, sk: "x" })),
        ),
      )
      .map(
        ([path, cursor]): FuzzRequest => ({
          class: "cursor",
          method: "GET",
          path: `${path}?cursor=${cursor}`,
          expect: { kind: "read" },
        }),
      ),
  },
  // 3. Ids, names, actors and reasons longer than any key or item can hold.
  {
    weight: 8,
    arbitrary: fc.oneof(
      longText(81, 5000).map(
        (id): FuzzRequest => ({
          class: "long",
          method: "GET",
          path: `/api/executions/${encodeURIComponent(id)}`,
          expect: { kind: "client-error" },
        }),
      ),
      longText(129, 5000).map(
        (name): FuzzRequest => ({
          class: "long",
          method: "POST",
          path: `/api/runbooks/${encodeURIComponent(name)}/executions`,
          headers: JSON_HEADERS,
          body: json(validStart()),
          expect: { kind: "client-error" },
        }),
      ),
      longText(256, 4000).map(
        (group): FuzzRequest => ({
          class: "long",
          method: "POST",
          path: "/api/runbooks/scale/executions",
          headers: JSON_HEADERS,
          body: json({ params: { autoScalingGroup: group, change: "+1" }, dryRun: true }),
          expect: { kind: "client-error", status: 400 },
        }),
      ),
      fc.tuple(longText(129, 4000), text).map(
        ([key, value]): FuzzRequest => ({
          class: "long",
          method: "POST",
          path: "/api/runbooks/backup-snapshot/executions",
          headers: JSON_HEADERS,
          body: json({ params: { selector: { tag: { [key]: value } } } }),
          expect: { kind: "client-error", status: 400 },
        }),
      ),
      longText(257, 12_000).map(
        (actor): FuzzRequest => ({
          class: "long",
          method: "POST",
          path: "/api/runbooks/scale/executions",
          headers: { ...JSON_HEADERS, "x-reflex-actor": encodeURIComponent(actor).slice(0, 12_000) },
          body: json(validStart()),
          expect: { kind: "client-error", status: 400 },
        }),
      ),
      longText(1025, 20_000).map(
        (reason): FuzzRequest => ({
          class: "long",
          method: "POST",
          path: "/api/guardrails/pause",
          headers: JSON_HEADERS,
          body: json({ reason }),
          expect: { kind: "client-error", status: 400 },
        }),
      ),
    ),
  },
  // 4. Bodies over the limit: a 413 with a JSON error, not a reset.
  {
    weight: 1,
    arbitrary: fc
      .tuple(
        fc.integer({ min: 1024 * 1024 + 1, max: 2 * 1024 * 1024 }),
        fc.constantFrom("/api/runbooks/scale/executions", "/events", "/api/guardrails/pause"),
      )
      .map(
        ([size, path]): FuzzRequest => ({
          class: "too-large",
          method: "POST",
          path,
          headers: JSON_HEADERS,
          body: `{"x":"${"a".repeat(size)}"}`,
          expect: { kind: "client-error", status: 413 },
        }),
      ),
  },
  // 5. A __proto__ / constructor / prototype key anywhere in a body.
  {
    weight: 10,
    arbitrary: fc
      .tuple(
        fc.constantFrom("start", "backup", "pause", "event", "entries"),
        forbiddenKey,
        fc.jsonValue({ maxDepth: 2 }),
        fc.integer({ min: 0, max: 2 }),
      )
      .map(([route, key, planted, depth]): FuzzRequest => {
        const base = (
          {
            start: ["/api/runbooks/scale/executions", validStart(), [["params"], ["params", "x"], []][depth]],
            backup: [
              "/api/runbooks/backup-snapshot/executions",
              validBackup(),
              [["params", "selector", "tag"], ["params", "selector"], ["params"]][depth],
            ],
            pause: ["/api/guardrails/pause", { reason: "fuzz" }, [[], ["a"], ["a", "b"]][depth]],
            event: ["/events", validAlarm(), [["detail"], ["detail", "state"], []][depth]],
            entries: ["/events", { Entries: [validAlarm()] }, [[], ["x"], ["x", "y"]][depth]],
          } as const
        )[route];
        return {
          class: "forbidden-key",
          method: "POST",
          path: base[0],
          headers: JSON_HEADERS,
          body: plantKey(base[1] as Record<string, any>, [...base[2]], key, planted),
          expect: { kind: "client-error", status: 400 },
        };
      }),
  },
  // 6. Bytes that are not UTF-8 inside an otherwise valid body.
  {
    weight: 8,
    arbitrary: fc
      .tuple(fc.constantFrom("start", "event", "pause"), badUtf8)
      .map(([route, bytes]): FuzzRequest => {
        const [path, value] =
          route === "start"
            ? ["/api/runbooks/scale/executions", validStart()]
            : route === "event"
              ? ["/events", validAlarm()]
              : ["/api/guardrails/pause", { reason: "fuzz" }];
        return {
          class: "utf8",
          method: "POST",
          path,
          headers: JSON_HEADERS,
          body: spoilUtf8(value, bytes),
          expect: { kind: "client-error", status: 400 },
        };
      }),
  },
  // 7. A valid body under a content type that is not JSON (or none).
  {
    weight: 8,
    arbitrary: fc
      .tuple(
        fc.constantFrom("/api/runbooks/scale/executions", "/events", "/api/guardrails/pause"),
        fc.constantFrom(
          "text/plain",
          "application/x-www-form-urlencoded",
          "multipart/form-data; boundary=x",
          "application/xml",
          "text/json",
          "",
        ),
      )
      .map(
        ([path, type]): FuzzRequest => ({
          class: "content-type",
          method: "POST",
          path,
          headers: type ? { "content-type": type } : {},
          body: json(
            path === "/events" ? validAlarm() : path.includes("pause") ? { reason: "fuzz" } : validStart(),
          ),
          expect: { kind: "client-error", status: 415 },
        }),
      ),
  },
  // 8. Unknown routes and wrong methods.
  {
    weight: 6,
    arbitrary: fc.oneof(
      fc.tuple(fc.constantFrom("GET", "POST", "PUT", "DELETE"), fc.stringMatching(/^[a-z0-9/_-]{1,30}$/)).map(
        ([method, rest]): FuzzRequest => ({
          class: "route",
          method,
          path: `/api/nope/${rest}`,
          expect: { kind: "client-error", status: 404 },
        }),
      ),
      fc.tuple(fc.stringMatching(/^[a-z0-9_-]{1,20}$/)).map(
        ([rest]): FuzzRequest => ({
          class: "route",
          method: "POST",
          path: `/events/${rest}`,
          headers: JSON_HEADERS,
          body: json(validAlarm()),
          expect: { kind: "client-error", status: 404 },
        }),
      ),
      fc
        .constantFrom(
          ["DELETE", "/api/runbooks"],
          ["PUT", "/api/executions"],
          ["GET", "/api/runbooks/scale/executions"],
          ["GET", "/events"],
          ["PATCH", "/api/audit"],
          ["POST", "/"],
          ["DELETE", "/"],
        )
        .map(
          ([method, path]): FuzzRequest => ({
            class: "route",
            method,
            path,
            expect: { kind: "client-error", status: 405 },
          }),
        ),
    ),
  },
  // 9. Spoiled events on POST /events: each entry is a `rejected` decision, not an HTTP error.
  {
    weight: 14,
    arbitrary: fc
      .tuple(
        fc.constantFrom(
          "timestamp",
          "previous-timestamp",
          "time",
          "alarm-name",
          "resource",
          "id",
          "reason",
          "oversize",
          "missing",
          "junk",
        ),
        text,
        fc.jsonValue({ maxDepth: 3 }),
        fc.integer({ min: 1, max: 10 }),
      )
      .map(([how, s, junk, count]): FuzzRequest => {
        const spoil = () => {
          const e: any = validAlarm();
          switch (how) {
            case "timestamp":
              e.detail.state.timestamp = `not-a-timestamp ${s}`;
              break;
            case "previous-timestamp":
              e.detail.previousState.timestamp = s.replace(/^\d/, "x") || "x";
              break;
            case "time":
              e.time = `${s}!`;
              break;
            case "alarm-name":
              e.detail.alarmName = "n".repeat(256 + s.length * 50);
              break;
            case "resource":
              e.resources = [`arn:${"r".repeat(1025 + s.length * 50)}`];
              break;
            case "id":
              e.id = "i".repeat(257 + s.length * 100);
              break;
            case "reason":
              e.detail.state.reason = "why ".repeat(256 + s.length * 10);
              break;
            case "oversize":
              // Over 256 KB, but few enough to stay under the 1 MiB body limit.
              e.detail.padding = "p".repeat(256 * 1024 + s.length);
              break;
            case "missing":
              delete e[["id", "source", "detail-type", "detail", "time"][s.length % 5]];
              break;
            case "junk":
              return junk;
          }
          return e;
        };
        const entries = Array.from({ length: how === "oversize" ? Math.min(count, 3) : count }, spoil);
        return {
          class: "event",
          method: "POST",
          path: "/events",
          headers: JSON_HEADERS,
          body: json(count === 1 && s.length % 2 ? entries[0] : { Entries: entries }),
          expect: { kind: "events-rejected" },
        };
      }),
  },
  // 10. More Entries than PutEvents takes, or Entries that are not a list.
  {
    weight: 3,
    arbitrary: fc
      .oneof(
        fc.integer({ min: 11, max: 40 }).map((n) => ({ Entries: Array.from({ length: n }, () => ({})) })),
        fc.jsonValue({ maxDepth: 2 }).map((v) => ({ Entries: Array.isArray(v) && v.length > 0 ? {} : v })),
      )
      .map(
        (body): FuzzRequest => ({
          class: "entries",
          method: "POST",
          path: "/events",
          headers: JSON_HEADERS,
          body: json(body),
          expect: { kind: "client-error", status: 400 },
        }),
      ),
  },
  // 11. Junk to the JSON API's writes: not JSON, JSON of the wrong shape, deep nesting.
  {
    weight: 8,
    arbitrary: fc
      .tuple(
        fc.constantFrom("/api/runbooks/scale/executions", "/api/runbooks/backup-snapshot/executions"),
        fc.oneof(
          fc.string({ maxLength: 80 }).filter((t) => {
            try {
              JSON.parse(t);
              return false;
            } catch {
              return true;
            }
          }),
          fc.jsonValue({ maxDepth: 3 }).map((v) => json({ params: { junk: v } })),
          fc
            .jsonValue({ maxDepth: 2 })
            .map((v) => json({ params: validStart().params, dryRun: true, extra: v })),
          fc.integer({ min: 33, max: 5000 }).map((d) => `${"[".repeat(d)}${"]".repeat(d)}`),
          fc.integer({ min: 33, max: 200 }).map((d) => `{"params":${'{"a":'.repeat(d)}1${"}".repeat(d)}}`),
        ),
      )
      .map(
        ([path, body]): FuzzRequest => ({
          class: "junk",
          method: "POST",
          path,
          headers: JSON_HEADERS,
          body,
          expect: { kind: "client-error", status: 400 },
        }),
      ),
  },
  // 12. The AWS JSON protocols on `/`: Step Functions and EventBridge, with junk input.
  {
    weight: 12,
    arbitrary: fc
      .tuple(
        fc.constantFrom(
          "AWSStepFunctions.StartExecution",
          "AWSStepFunctions.DescribeExecution",
          "AWSStepFunctions.StopExecution",
          "AWSStepFunctions.ListExecutions",
          "AWSStepFunctions.GetExecutionHistory",
          "AWSStepFunctions.SendTaskSuccess",
          "AWSStepFunctions.Nope",
          "AWSEvents.PutEvents",
        ),
        fc.oneof(
          fc.string({ maxLength: 60 }),
          fc.jsonValue({ maxDepth: 3 }).map(json),
          fc
            .record(
              {
                // Never a real state machine: starting one would be a run outside Reflex.
                stateMachineArn: fc.oneof(
                  text.map((t) => `arn:aws:states:us-east-1:000000000000:stateMachine:fuzz-${t}`),
                  fc.jsonValue({ maxDepth: 1 }),
                ),
                executionArn: fc.oneof(text, fc.jsonValue({ maxDepth: 1 })),
                name: fc.oneof(text, fc.integer()),
                input: fc.oneof(text, fc.jsonValue({ maxDepth: 2 }).map(json)),
                Entries: fc.oneof(
                  fc.array(
                    fc.record(
                      {
                        Source: fc.oneof(text, fc.integer()),
                        DetailType: text,
                        Detail: fc.oneof(text, fc.jsonValue({ maxDepth: 2 }).map(json)),
                        EventBusName: fc.constantFrom("fuzz-bus", "default", "reflex-local"),
                      },
                      { requiredKeys: [] },
                    ),
                    { maxLength: 12 },
                  ),
                  fc.jsonValue({ maxDepth: 1 }),
                ),
              },
              { requiredKeys: [] },
            )
            .map(json),
          badUtf8.map((b) => Buffer.concat([Buffer.from('{"executionArn":"'), b, Buffer.from('"}')])),
        ),
      )
      .map(
        ([target, body]): FuzzRequest => ({
          class: "aws",
          method: "POST",
          path: "/",
          headers: {
            "x-amz-target": target,
            "content-type": target.startsWith("AWSEvents")
              ? "application/x-amz-json-1.1"
              : "application/x-amz-json-1.0",
          },
          body,
          expect: { kind: "aws-error" },
        }),
      ),
  },
  // 13. Reads with junk query strings, and the dashboard.
  {
    weight: 8,
    arbitrary: fc
      .tuple(
        fc.constantFrom(
          "/api/runbooks",
          "/api/executions",
          "/api/audit",
          "/api/guardrails",
          "/api/locks",
          "/api/lifecycle",
          "/",
        ),
        fc.constantFrom("limit", "runbook", "cursor", "status", "since", "execution", "actor", "kind", "x"),
        fc.oneof(text, fc.integer().map(String), longText(100, 3000)),
      )
      .map(
        ([path, key, value]): FuzzRequest => ({
          class: "read",
          method: "GET",
          path: `${path}?${key}=${encodeURIComponent(value)}`,
          expect: { kind: "read" },
        }),
      ),
  },
];

const request = fc.oneof(...classes);

const tally = {
  requests: 0,
  byStatus: new Map<number, number>(),
  byClass: new Map<string, number>(),
  msByClass: new Map<string, number>(),
};

/** The answer is what `req.expect` allows; returns why not, or undefined. */
function judge(req: FuzzRequest, res: RawResponse): string | undefined {
  if (res.status >= 500) return `a ${res.status}`;
  const errorShape =
    typeof res.json?.error?.code === "string" && typeof res.json?.error?.message === "string";
  const is4xx = res.status >= 400 && res.status < 500;
  switch (req.expect.kind) {
    case "client-error":
      if (!is4xx) return `expected a 4xx, got ${res.status}`;
      if (req.expect.status && res.status !== req.expect.status)
        return `expected ${req.expect.status}, got ${res.status}`;
      return errorShape ? undefined : "a 4xx without { error: { code, message } }";
    case "read":
      if (is4xx) return errorShape ? undefined : "a 4xx without { error: { code, message } }";
      return res.status >= 200 && res.status < 300 ? undefined : `unexpected ${res.status}`;
    case "events-rejected":
      if (is4xx) return errorShape ? undefined : "a 4xx without { error: { code, message } }";
      if (res.status !== 200) return `unexpected ${res.status}`;
      return Array.isArray(res.json?.results) &&
        (res.json.results as Array<{ decision: string }>).every((r) => r.decision === "rejected")
        ? undefined
        : `an invalid event was not rejected: ${res.text.slice(0, 300)}`;
    case "aws-error":
      if (is4xx)
        return typeof res.json?.__type === "string" || errorShape ? undefined : "a 4xx without __type";
      return res.status === 200 ? undefined : `unexpected ${res.status}`;
  }
}

async function send(req: FuzzRequest): Promise<void> {
  const t0 = Date.now();
  const res = await rawRequest(local.url, { ...req, timeoutMs: REQUEST_TIMEOUT_MS });
  tally.msByClass.set(req.class, (tally.msByClass.get(req.class) ?? 0) + Date.now() - t0);
  tally.requests++;
  tally.byStatus.set(res.status, (tally.byStatus.get(res.status) ?? 0) + 1);
  tally.byClass.set(req.class, (tally.byClass.get(req.class) ?? 0) + 1);
  const wrong = judge(req, res);
  if (wrong) {
    const body =
      typeof req.body === "string" ? req.body.slice(0, 300) : req.body?.toString("hex").slice(0, 300);
    throw new Error(
      `${req.method} ${req.path.slice(0, 200)} (${req.class}): ${wrong}\nbody: ${body}\nanswer: ${res.text.slice(0, 500)}`,
    );
  }
}

async function executionIds(): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await api(local, "GET", `/api/executions?limit=500${cursor ? `&cursor=${cursor}` : ""}`);
    ids.push(...page.body.executions.map((e: { id: string }) => e.id));
    cursor = page.body.next;
  } while (cursor);
  return ids;
}

describe("the local server under fuzzed hostile input", () => {
  it("answers 5,000+ malformed requests on every route with a 4xx in time, starts nothing, and stays healthy", async () => {
    const started = Date.now();
    const before = await executionIds();

    await fc.assert(
      fc.asyncProperty(fc.array(request, { minLength: BATCH, maxLength: BATCH }), async (batch) => {
        await Promise.all(batch.map(send));
      }),
      // Counterexamples hold megabyte bodies: report the failing request (the thrown error), not them.
      { numRuns: RUNS, verbose: 0, endOnFailure: true },
    );
    await local.idle();

    expect(tally.requests).toBeGreaterThanOrEqual(5000);
    expect([...tally.byStatus.keys()].filter((s) => s >= 500)).toEqual([]);
    // Nothing the fuzz sent started a run, and nothing paused automation.
    expect(await executionIds()).toEqual(before);
    expect((await api(local, "GET", "/api/guardrails")).body.paused).toBe(false);

    // Healthy: reads answer, and a valid start (then a valid event) still starts a run.
    expect((await api(local, "GET", "/api/runbooks")).status).toBe(200);
    const start = await api(local, "POST", "/api/runbooks/scale/executions", validStart());
    expect(start.status).toBe(202);
    const event = await api(local, "POST", "/events", validAlarm());
    expect(event.body.results[0].decision).toBe("started");
    await local.idle();
    expect((await executionIds()).length).toBe(before.length + 2);

    const fourXx = [...tally.byStatus].filter(([s]) => s >= 400 && s < 500).reduce((n, [, c]) => n + c, 0);
    console.log(
      JSON.stringify({
        requests: tally.requests,
        "4xx": fourXx,
        "5xx": 0,
        byStatus: Object.fromEntries(tally.byStatus),
        byClass: Object.fromEntries(tally.byClass),
        msByClass: Object.fromEntries(tally.msByClass),
        seconds: (Date.now() - started) / 1000,
      }),
    );
  }, 300_000);
});
