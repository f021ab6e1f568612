import { userInfo } from "node:os";
import { type Audit, Executions, type Runbooks } from "@reflex/core";
import { terminalSafe } from "../activity.ts";
import { openTransport, type Transport, TransportError } from "./transport.ts";

/** An error the API answered with (or could not be reached: status 0). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export interface ExecutionView {
  attention?: { reason: string; completedSteps: string[]; inFlightSteps: string[]; report?: unknown };
  id: string;
  runbook: string;
  status: string;
  dryRun: boolean;
  startedAt: string;
  endedAt?: string;
  error?: string | null;
  cause?: string | null;
  params?: Record<string, unknown>;
  trigger: {
    kind: string;
    name?: string;
    actor: string;
    eventId?: string;
    /** The alarm whose transition started it (through a rule), with CloudWatch's reason. */
    alarm?: { name: string; state: string; reason?: string };
    rerunOf?: string;
    overrideFreeze?: string;
    overridePause?: string;
  };
  result?: Record<string, unknown>;
  /** The run's results in the one result shape (`GET /api/executions/:id`). */
  outcome?: Runbooks.RunResult;
  approval?: { required: boolean; reasons: string[]; approvers: string[]; requestedBy: string };
  cancel?: { by: string; reason: string; at: string };
  window?: { name: string; endsAt: string; cutoffAt: string };
  locks?: string[];
  /** The member account and Region the run acts in (absent: the hub's). */
  location?: { account: string; region: string };
  steps?: StepView[];
  audit?: AuditEntryView[];
}

export interface StepView {
  state?: string;
  step: string;
  status: string;
  target?: string | null;
  startedAt?: string;
  endedAt?: string;
  durationMs?: number;
  error?: string | null;
  cause?: string | null;
}

/** An audit entry as the API returns it: the stored entry itself. */
export type AuditEntryView = Audit.AuditEntry;

export interface RunbookView {
  name: string;
  summary: string;
  risk: string;
  cap?: { maxTargets: number };
  dryRun?: string;
  params: Record<string, unknown>;
  example?: Record<string, unknown>;
}

export interface GuardrailsView {
  paused: boolean;
  pausedBy?: string;
  reason?: string;
  breaker: { failures: number; within: number; recentFailures: number; open?: boolean };
  freezes: Array<{ name: string; from: string; to: string; active: boolean; reason?: string }>;
  locks?: LockView[];
  cooldowns?: Array<{
    key?: string;
    rule?: string;
    target?: string;
    runbook?: string;
    executionId?: string;
    until: string;
  }>;
}

/** A held lock: `/api/locks` names its holder `owner`; `/api/guardrails` says `executionId`. */
export interface LockView {
  target: string;
  owner?: string;
  executionId?: string;
  runbook?: string;
  since?: string;
  leaseUntil?: number | string;
  expiresAt?: string;
}

/** A page of a list; the server names the next page's cursor `cursor` (older servers: `next`). */
export interface Page {
  cursor?: string;
  next?: string;
}

export interface ExecutionFilter {
  status?: string;
  runbook?: string;
  since?: string;
  limit?: number;
  cursor?: string;
}

export interface AuditFilter {
  execution?: string;
  actor?: string;
  kind?: string;
  since?: string;
  limit?: number;
  cursor?: string;
}

function query(filter: object): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(filter)) if (v !== undefined && v !== "") q.set(k, String(v));
  return q.size ? `?${q}` : "";
}

const TERMINAL = new Set<string>(Executions.TERMINAL);

/** How long the CLI waits out a local mode that answers 503 `starting`, and how often it asks again. */
const STARTING_WAIT_MS = 30_000;
const STARTING_POLL_MS = 250;

/** The CLI's client for Reflex's JSON API; every request goes through the transport. */
export class ApiClient {
  private opened?: Promise<Transport>;

  /**
   * @param server the server: a transport, a URL (signed when it is a deployed API), or
   *   undefined to find it as {@link openTransport} does (`REFLEX_URL`, the port file…).
   * @param actor who the local server records as the actor (`--as`; default `cli:$USER`). A
   *   deployed API ignores it: there the caller is the IAM principal that signed the request.
   * @param options `forTerminal`: every string in an answer is made {@link terminalSafe}, for
   *   commands that print for people (alarm reasons, causes, comments are chosen by whoever
   *   sends an event, and an escape sequence printed as is could rewrite the screen); `--json`
   *   output keeps the answer as it is.
   */
  constructor(
    private readonly server?: string | Transport,
    readonly actor = `cli:${localUser()}`,
    private readonly options: { forTerminal?: boolean; startingWaitMs?: number } = {},
  ) {}

  /** The transport, opened on first use; a bad URL is bad input (400, exit 2). */
  transport(): Promise<Transport> {
    this.opened ??=
      typeof this.server === "object"
        ? Promise.resolve(this.server)
        : openTransport({ url: this.server }).catch((e) => {
            throw e instanceof TransportError ? new ApiError(400, "bad_url", e.message) : e;
          });
    return this.opened;
  }

  /** Any JSON API call (the people commands: approve, abort, re-run…). */
  call<T>(method: string, path: string, body?: unknown): Promise<T> {
    return this.request<T>(method, path, body);
  }

  /**
   * A request, sent again while local mode answers 503 `starting` (`reflex start` restarted a
   * moment ago): every STARTING_POLL_MS, for up to `startingWaitMs` (default 30 s), then an
   * ApiError that says it is still starting. Nothing was done with a request answered so.
   */
  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const waitMs = this.options.startingWaitMs ?? STARTING_WAIT_MS;
    const began = Date.now();
    for (;;) {
      try {
        return await this.requestOnce<T>(method, path, body);
      } catch (e) {
        if (!(e instanceof ApiError && e.status === 503 && e.code === "starting")) throw e;
        const waited = Date.now() - began;
        if (waited >= waitMs) {
          const { baseUrl } = await this.transport();
          throw new ApiError(
            503,
            "starting",
            `Reflex at ${baseUrl} is still starting (waited ${Math.round(waited / 1000)} s); try again once \`reflex start\` has printed that it is ready`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, Math.min(STARTING_POLL_MS, waitMs - waited)));
      }
    }
  }

  private async requestOnce<T>(method: string, path: string, body?: unknown): Promise<T> {
    const transport = await this.transport();
    let res: Response;
    try {
      res = await transport.fetch(path, {
        method,
        headers: {
          "content-type": "application/json",
          "x-reflex-actor": this.actor,
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      if (e instanceof TransportError) throw new ApiError(400, "bad_url", e.message);
      const cause = (e as Error & { cause?: Error }).cause?.message ?? (e as Error).message;
      throw new ApiError(
        0,
        "unreachable",
        transport.remote
          ? `cannot reach Reflex at ${transport.baseUrl} (${cause})`
          : `cannot reach Reflex at ${transport.baseUrl} (${cause}); start it with: npm start`,
      );
    }
    const text = await res.text();
    // Any JSON; an error answer is read as Reflex's `{ error }` or API Gateway's `{ message }`.
    let json: {
      results?: unknown;
      error?: { code?: string; message?: string; path?: string };
      message?: string;
    };
    try {
      json = text ? JSON.parse(text) : {};
    } catch {
      throw new ApiError(
        res.status,
        "bad_response",
        `Reflex answered ${res.status} with a body that is not JSON`,
      );
    }
    // POST /events answers 503 when an entry is still being handled elsewhere; the body still
    // holds every entry's decision, which the caller reports.
    if (this.options.forTerminal) json = safeStrings(json) as typeof json;
    if (res.status === 503 && Array.isArray(json.results)) return json as T;
    if (!res.ok) {
      // API Gateway answers its own refusals (IAM auth, throttling) as `{ "message": … }`.
      const e = json.error ?? { code: "error", message: json.message };
      const hint =
        transport.remote && (res.status === 401 || res.status === 403) && !json.error
          ? " — the request was signed with your AWS credentials (the standard chain: AWS_PROFILE, SSO, env…); they need execute-api:Invoke on this API"
          : "";
      throw new ApiError(
        res.status,
        e.code ?? "error",
        `${e.message ?? res.statusText}${e.path ? ` (at ${e.path})` : ""}${hint}`,
      );
    }
    return json as T;
  }

  runbooks() {
    return this.request<{ runbooks: RunbookView[] }>("GET", "/api/runbooks");
  }

  /** One runbook; ApiError 404 naming the known ones for an unknown name. */
  async runbook(name: string): Promise<RunbookView> {
    const { runbooks } = await this.runbooks();
    const found = runbooks.find((r) => r.name === name);
    if (!found)
      throw new ApiError(
        404,
        "not_found",
        `runbook '${name}' does not exist; known: ${runbooks.map((r) => r.name).join(", ")}`,
      );
    return found;
  }

  /** The params JSON Schema of a runbook; ApiError 404 for an unknown one. */
  async runbookSchema(name: string): Promise<Record<string, unknown>> {
    return (await this.runbook(name)).params;
  }

  startExecution(
    runbook: string,
    params: Record<string, unknown>,
    dryRun: boolean,
    overrides: { overrideFreeze?: string; overridePause?: string } = {},
  ) {
    return this.request<{
      executionId: string;
      approval?: { required: boolean; reasons?: string[]; approvers?: string[] };
    }>("POST", `/api/runbooks/${encodeURIComponent(runbook)}/executions`, { params, dryRun, ...overrides });
  }

  /** One child run per location the selector names (`POST …/executions` with `locations`). */
  startInLocations(
    runbook: string,
    params: Record<string, unknown>,
    dryRun: boolean,
    where: {
      locations: { accounts: string[]; regions?: string[]; excludeAccounts?: string[] };
      locationConcurrency?: number | string;
      locationMaxErrors?: number | string;
    },
    overrides: { overrideFreeze?: string; overridePause?: string } = {},
  ) {
    return this.request<{
      parentId: string;
      locationConcurrency: number;
      locationMaxErrors: number;
      children: Array<{ account: string; accountName?: string; region: string; executionId: string }>;
    }>("POST", `/api/runbooks/${encodeURIComponent(runbook)}/executions`, {
      params,
      dryRun,
      ...where,
      ...overrides,
    });
  }

  /** Off-hours' estimated savings (`GET /api/offhours/savings`): the stops that ended in [from, to), totalled. */
  offHoursSavings(query: { from?: string; to?: string; by?: string }) {
    const q = new URLSearchParams(
      Object.entries(query).filter((e): e is [string, string] => e[1] !== undefined),
    );
    return this.request<{
      estimate: true;
      ebs: string;
      stops: number;
      totals: Array<{ group: string; instanceHours: number; dollars: number; unpriced: number }>;
    }>("GET", `/api/offhours/savings${q.size ? `?${q}` : ""}`);
  }

  /** Off-hours' overrides in force (`GET /api/offhours/overrides`), expired ones left out. */
  offHoursOverrides() {
    return this.request<{
      overrides: Array<{ target: string; until: string; setBy: string; reason: string; setAt: string }>;
    }>("GET", "/api/offhours/overrides");
  }

  /**
   * Sets (`POST`) or cancels (`DELETE`) overrides on `/api/offhours/overrides`: an off-hours run
   * admitted as the caller; the answer is the run started.
   */
  offHoursOverride(
    method: "POST" | "DELETE",
    body: {
      targets: string[];
      until?: string;
      for?: string;
      reason?: string;
      start?: boolean;
      dryRun?: boolean;
    },
  ) {
    return this.request<{ executionId: string }>(method, "/api/offhours/overrides", body);
  }

  /** Recovery drills (`GET /api/drills`): each with its last run, trend and counts. */
  drills(period?: { from?: string; to?: string }) {
    const q = new URLSearchParams(
      Object.entries(period ?? {}).filter((kv): kv is [string, string] => kv[1] !== undefined),
    ).toString();
    return this.request<{ drills: DrillEntry[]; summary?: DrillSummary }>(
      "GET",
      `/api/drills${q ? `?${q}` : ""}`,
    );
  }

  /** One drill's every run, newest first (`GET /api/drills/:name/history`). */
  drillHistory(name: string) {
    return this.request<{ name: string; runbook: string; runs: DrillRow[] }>(
      "GET",
      `/api/drills/${encodeURIComponent(name)}/history`,
    );
  }

  /** A runbook's own records (`GET /api/runbooks/:name/items`), expired ones left out. */
  runbookItems(runbook: string, prefix = "") {
    return this.request<{
      items: Array<{ key: string; value: Record<string, unknown>; expiresAt?: string; updatedAt: string }>;
    }>("GET", `/api/runbooks/${encodeURIComponent(runbook)}/items?prefix=${encodeURIComponent(prefix)}`);
  }

  getExecution(id: string) {
    return this.request<ExecutionView>("GET", `/api/executions/${encodeURIComponent(id)}`);
  }

  /** A page of executions, newest first, filtered by the server. */
  listExecutions(filter: ExecutionFilter = {}) {
    return this.request<{ executions: ExecutionView[] } & Page>("GET", `/api/executions${query(filter)}`);
  }

  /** A page of the audit trail, newest first, filtered by the server. */
  audit(filter: AuditFilter = {}) {
    return this.request<{ entries: AuditEntryView[] } & Page>("GET", `/api/audit${query(filter)}`);
  }

  locks() {
    return this.request<{ locks: LockView[] }>("GET", "/api/locks");
  }

  putEvents(body: unknown) {
    return this.request<{
      results: Array<{
        eventId: string;
        decision: string;
        rule?: string;
        executionId?: string;
        guardrail?: string;
        reason: string;
      }>;
    }>("POST", "/events", body);
  }

  guardrails() {
    return this.request<GuardrailsView>("GET", "/api/guardrails");
  }

  pause(reason: string) {
    return this.request("POST", "/api/guardrails/pause", { reason });
  }

  resume() {
    return this.request("POST", "/api/guardrails/resume", {});
  }

  /** Failover pairs with who is primary now (`reflex pairs`). */
  pairs() {
    return this.request<{
      pairs: Array<{
        name: string;
        primary: string;
        standby: string;
        since?: string;
        executionId?: string;
        switching?: { executionId: string; towards: string; since: string };
        attention?: { reason: string; since: string };
      }>;
    }>("GET", "/api/pairs");
  }
}

/** Every string in a JSON value (keys too) through {@link terminalSafe}. */
function safeStrings(v: unknown): unknown {
  if (typeof v === "string") return terminalSafe(v);
  if (Array.isArray(v)) return v.map(safeStrings);
  if (v && typeof v === "object")
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [terminalSafe(k), safeStrings(x)]));
  return v;
}

/** The cursor of the next page, whichever name the server gives it. */
export function nextCursor(page: Page): string | undefined {
  return page.cursor ?? page.next;
}

export function isTerminal(status: string): boolean {
  return TERMINAL.has(status);
}

/** The person at this terminal: `$USER`, else the OS account's name (containers often leave USER unset). */
function localUser(): string {
  if (process.env.USER) return process.env.USER;
  try {
    return userInfo().username || "unknown";
  } catch {
    return "unknown";
  }
}

/** One drill run as `GET /api/drills` shows it (restore's row: RTO/RPO, checksum, cleanup). */
export interface DrillRow {
  executionId: string;
  status: string;
  startedAt: string;
  endedAt?: string;
  trigger: string;
  verdict: string;
  rtoMinutes?: number;
  rpoMinutes?: number;
  rto?: string;
  rpo?: string;
  targets?: { rtoMinutes: number; rpoMinutes: number };
  phasesMinutes?: Record<string, number>;
  checksum?: string;
  cleanup?: string;
  /** What it created, what was deleted, and what is left (volume ids). */
  resources?: { created: string[]; deleted: string[]; left: string[] };
  /** Its S3 report, or `pending: …` when the write failed (the reconciler retries). */
  report?: string;
  error?: string;
  cause?: string;
}

/** Drills' compliance over a period (`GET /api/drills?from=&to=`'s `summary`). */
export interface DrillCompliance {
  runs: number;
  met: number;
  missed: number;
  failed: number;
  lost: number;
  metPercent: number | null;
}
export interface DrillSummary {
  from: string;
  to: string;
  overall: DrillCompliance & { entries: number; neverRun: string[] };
  entries: Array<DrillCompliance & { name: string }>;
}

export interface DrillEntry {
  name: string;
  runbook: string;
  last?: DrillRow;
  trend: string[];
  runs: number;
  met: number;
  missed: number;
  failed: number;
}
