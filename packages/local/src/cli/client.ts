import { Executions } from "@reflex/core";
import { openTransport, type Transport, TransportError } from "./transport.ts";

/** The CLI's client for the local server's JSON API. */
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
  trigger: { kind: string; name?: string; actor: string };
  result?: Record<string, any>;
  steps?: Array<{
    step: string;
    status: string;
    target?: string;
    durationMs?: number;
    error?: string | null;
    cause?: string | null;
  }>;
  audit?: Array<{ at: string; kind: string; actor: string; reason: string }>;
}

const TERMINAL = new Set<string>(Executions.TERMINAL);

export class ApiClient {
  private opened?: Promise<Transport>;

  /**
   * @param server the server: a transport, a URL (signed when it is a deployed API), or
   *   undefined to find it as {@link openTransport} does (`REFLEX_URL`, the port file…).
   * @param actor who the local server records as the actor (`--as`; default `cli:$USER`). A
   *   deployed API ignores it: there the caller is the IAM principal that signed the request.
   */
  constructor(
    private readonly server?: string | Transport,
    readonly actor = `cli:${process.env.USER ?? "unknown"}`,
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

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
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
    let json: any;
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

  /** The params JSON Schema of a runbook; ApiError 404 for an unknown one. */
  async runbookSchema(name: string): Promise<Record<string, unknown>> {
    const { runbooks } = await this.request<{
      runbooks: Array<{ name: string; params: Record<string, unknown> }>;
    }>("GET", "/api/runbooks");
    const found = runbooks.find((r) => r.name === name);
    if (!found)
      throw new ApiError(
        404,
        "not_found",
        `runbook '${name}' does not exist; known: ${runbooks.map((r) => r.name).join(", ")}`,
      );
    return found.params;
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

  getExecution(id: string) {
    return this.request<ExecutionView>("GET", `/api/executions/${encodeURIComponent(id)}`);
  }

  listExecutions(limit = 25) {
    return this.request<{ executions: ExecutionView[]; next?: string }>(
      "GET",
      `/api/executions?limit=${limit}`,
    );
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
    return this.request<{
      paused: boolean;
      pausedBy?: string;
      reason?: string;
      breaker: { failures: number; within: number; recentFailures: number };
      freezes: Array<{ name: string; from: string; to: string; active: boolean }>;
    }>("GET", "/api/guardrails");
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
      pairs: Array<{ name: string; primary: string; standby: string; since?: string; executionId?: string }>;
    }>("GET", "/api/pairs");
  }

  async waitForExecution(id: string, timeoutMs = 30 * 60_000): Promise<ExecutionView> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const e = await this.getExecution(id);
      if (TERMINAL.has(e.status)) return e;
      if (Date.now() > deadline)
        throw new ApiError(0, "timeout", `execution ${id} still ${e.status} after ${timeoutMs / 1000}s`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}
