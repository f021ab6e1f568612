/** Starts local mode in-process for a test: in-memory data, a free port, short waits. */
import { type ConfigInput, validateConfig } from "@reflex/core";
import { SimulatedCloud } from "../../packages/local/src/cloud/index.ts";
import { type LocalMode, startLocal } from "../../packages/local/src/local-mode.ts";
import { waitFor } from "./wait.ts";

export async function startTestLocal(
  config: ConfigInput = {},
  opts: { cloud?: SimulatedCloud } = {},
): Promise<LocalMode> {
  return startLocal({
    config: validateConfig(config),
    port: 0,
    quiet: true,
    dataDir: null,
    waitMs: 20,
    scheduler: true,
    // Transitions short enough for many runs per file, long enough that code which does not
    // wait for them (InService, available, attached) still fails: the step loops poll every 20 ms.
    cloud:
      opts.cloud ??
      SimulatedCloud.seeded({
        snapshotDurationMs: 150,
        capacityLaunchMs: 150,
        volumeCreateMs: 150,
        volumeCreatePerGiBMs: 1,
        volumeAttachMs: 100,
      }),
  });
}

export function api<T = any>(
  local: LocalMode,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  return request<T>(local, method, path, body, {});
}

/** A request to local mode's API as `as`: the caller local mode takes it from (`x-reflex-actor`). */
export function apiAs<T = any>(
  local: LocalMode,
  as: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  return request<T>(local, method, path, body, { "x-reflex-actor": as });
}

async function request<T>(
  local: LocalMode,
  method: string,
  path: string,
  body: unknown,
  headers: Record<string, string>,
): Promise<{ status: number; body: T }> {
  const res = await fetch(`${local.url}${path}`, {
    method,
    headers: { "content-type": "application/json", ...headers },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as T };
}

/** Starts a run through the HTTP API as `actor` (`x-reflex-actor`): its execution id, or throws. */
export async function startAs(
  local: LocalMode,
  actor: string,
  runbook: string,
  params: unknown,
  dryRun = false,
): Promise<string> {
  const res = await apiAs<{ executionId?: string }>(
    local,
    actor,
    "POST",
    `/api/runbooks/${runbook}/executions`,
    {
      params,
      dryRun,
    },
  );
  if (!res.body.executionId) throw new Error(`start failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.executionId;
}

/** A run's status as the API answers it. */
export const runStatus = async (local: LocalMode, id: string): Promise<string> =>
  (await api(local, "GET", `/api/executions/${id}`)).body.status;

/** Starts a run through the HTTP API and waits until it has ended and been closed. */
export async function runAndWait(local: LocalMode, runbook: string, params: unknown, dryRun = false) {
  const started = await api<{ executionId: string }>(local, "POST", `/api/runbooks/${runbook}/executions`, {
    params,
    dryRun,
  });
  if (started.status !== 202) throw new Error(`start failed: ${JSON.stringify(started.body)}`);
  await local.idle();
  return (await api(local, "GET", `/api/executions/${started.body.executionId}`)).body;
}

/**
 * A run's record as `as` reads it, and waits on it: until it waits for approval, until it has
 * ended (neither running nor waiting). Each answers the API's last answer.
 */
export function runAs(local: LocalMode, as: string) {
  const show = (id: string) => apiAs(local, as, "GET", `/api/executions/${id}`);
  return {
    show,
    waiting: (id: string) =>
      waitFor(
        () => show(id),
        (e) => e.body.status === "WAITING_FOR_APPROVAL",
      ),
    ended: (id: string) =>
      waitFor(
        () => show(id),
        (e) => !["RUNNING", "WAITING_FOR_APPROVAL"].includes(e.body.status),
      ),
  };
}
