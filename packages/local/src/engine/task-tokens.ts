/**
 * Task tokens for the local engine: what `.waitForTaskToken` needs and aws-local-stepfunctions
 * lacks. A waiting Task gets a token and a promise; SendTaskSuccess / SendTaskFailure /
 * SendTaskHeartbeat answer it with AWS's errors: `InvalidToken` for something that is not a
 * token, `TaskDoesNotExist` for one never issued or already answered, `TaskTimedOut` for one
 * whose deadline passed.
 */
import { randomBytes } from "node:crypto";
import { AwsError } from "./local-sfn.ts";

interface Waiting {
  executionId: string;
  deadline: number;
  resolve: (output: unknown) => void;
  reject: (err: Error) => void;
}

const FORMAT = /^lt1\.[A-Za-z0-9_-]{40,}$/;
/** How many answered tokens are remembered (to answer a second SendTask* as AWS does). */
const KEEP_ENDED = 10_000;

export class TaskTokens {
  readonly #waiting = new Map<string, Waiting>();
  readonly #ended = new Map<string, "answered" | "timed-out">();

  /** A new token for a Task of `executionId` that times out after `deadlineMs`. */
  issue(executionId: string, deadlineMs: number): { token: string; answer: Promise<unknown> } {
    const token = `lt1.${randomBytes(48).toString("base64url")}`;
    let resolve!: (v: unknown) => void;
    let reject!: (e: Error) => void;
    const answer = new Promise<unknown>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    this.#waiting.set(token, { executionId, deadline: Date.now() + deadlineMs, resolve, reject });
    // The deadline: the Task fails with States.Timeout, as Step Functions fails a Task whose
    // TimeoutSeconds passed, and a later answer is TaskTimedOut.
    const timer = setTimeout(() => {
      if (!this.#waiting.has(token)) return;
      this.#end(token, "timed-out");
      const e = new Error("the task's deadline passed before its token was answered");
      e.name = "States.Timeout";
      reject(e);
    }, deadlineMs);
    timer.unref?.();
    void answer.then(
      () => clearTimeout(timer),
      () => clearTimeout(timer),
    );
    return { token, answer };
  }

  #take(token: unknown): Waiting {
    if (typeof token !== "string" || !FORMAT.test(token))
      throw new AwsError("InvalidToken", "Invalid Token: not a task token");
    const w = this.#waiting.get(token);
    if (!w) {
      if (this.#ended.get(token) === "timed-out")
        throw new AwsError("TaskTimedOut", "Task Timed Out: the task's deadline passed");
      throw new AwsError(
        "TaskDoesNotExist",
        "Task Does Not Exist: this token was never issued or was already answered",
      );
    }
    if (Date.now() > w.deadline) {
      this.#end(token, "timed-out");
      throw new AwsError("TaskTimedOut", "Task Timed Out: the task's deadline passed");
    }
    return w;
  }

  #end(token: string, how: "answered" | "timed-out"): void {
    this.#waiting.delete(token);
    this.#ended.set(token, how);
    if (this.#ended.size > KEEP_ENDED) this.#ended.delete(this.#ended.keys().next().value as string);
  }

  succeed(token: unknown, output: unknown): void {
    const w = this.#take(token);
    let parsed: unknown;
    try {
      parsed = typeof output === "string" ? JSON.parse(output) : output;
    } catch {
      throw new AwsError("InvalidOutput", "Invalid Output: the output is not JSON");
    }
    this.#end(token as string, "answered");
    w.resolve(parsed);
  }

  fail(token: unknown, error?: string, cause?: string): void {
    const w = this.#take(token);
    this.#end(token as string, "answered");
    const e = new Error(cause ?? "");
    e.name = error || "States.TaskFailed";
    w.reject(e);
  }

  heartbeat(token: unknown): void {
    this.#take(token);
  }

  /**
   * Forgets the tokens of an execution that ended or was stopped. A Task still waiting on one
   * (the run was stopped) is settled, as failed: otherwise it would wait for ever, and with it
   * the engine's timer for that Task, which keeps a stopped `reflex start` alive.
   */
  forgetExecution(executionId: string): void {
    for (const [token, w] of this.#waiting) {
      if (w.executionId !== executionId) continue;
      this.#end(token, "answered");
      const e = new Error("the execution was stopped while this task waited for its token");
      e.name = "States.Aborted";
      w.reject(e);
    }
  }

  get size(): number {
    return this.#waiting.size;
  }
}
