/** The API logs the caller's mistakes at INFO without a stack, naming the route. */
import { logger } from "@reflex/functions/lib/runtime";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { LocalMode } from "../packages/local/src/local-mode.ts";
import { api, startTestLocal } from "./support/local.ts";

let local: LocalMode;
beforeAll(async () => {
  local = await startTestLocal();
});
afterAll(async () => {
  vi.restoreAllMocks();
  await local?.stop();
});

describe("API logs", () => {
  it("logs a 404 and a 409 at INFO with the route and no stack, never as an error", async () => {
    const error = vi.spyOn(logger, "error");
    const info = vi.spyOn(logger, "info");
    const params = { autoScalingGroup: "web", change: "+1" };
    const first = await api(local, "POST", "/api/runbooks/scale/executions", { params });
    const missing = await api(local, "GET", "/api/executions/no-such-run");
    const locked = await api(local, "POST", "/api/runbooks/scale/executions", { params });
    await local.idle();

    expect(first.status).toBe(202);
    expect(missing.status).toBe(404);
    expect(locked.status).toBe(409);
    expect(error).not.toHaveBeenCalled();
    expect(info).toHaveBeenCalledWith(
      "request refused",
      expect.objectContaining({ route: "GET /api/executions/no-such-run", code: "not_found" }),
    );
    expect(info).toHaveBeenCalledWith(
      "request refused",
      expect.objectContaining({ route: "POST /api/runbooks/scale/executions", code: "target_locked" }),
    );
    for (const call of info.mock.calls) expect(JSON.stringify(call)).not.toContain("    at ");
  });
});
