/**
 * Slack work in local mode: what the worker Lambda would do after the acknowledgement, run in
 * this process once the answer has gone (on the next turn of the event loop, as an async
 * invocation would start later). Stopping drops what has not started and waits for what has,
 * so no work runs against a store that is closing, or after the AWS endpoints are gone.
 */
export class SlackWork<W> {
  readonly #run: (work: W) => Promise<unknown>;
  readonly #running = new Set<Promise<void>>();
  #stopped = false;
  #dropped = 0;

  constructor(run: (work: W) => Promise<unknown>) {
    this.#run = run;
  }

  /** True once stopping has begun: new work is refused. */
  get stopped(): boolean {
    return this.#stopped;
  }

  /** Work dropped because local mode stopped before it started. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Queues one piece of work; false (and nothing queued) once stopping has begun. */
  add(work: W): boolean {
    if (this.#stopped) return false;
    const done: Promise<void> = new Promise<void>((resolve) => setImmediate(resolve))
      .then(async () => {
        if (this.#stopped) {
          this.#dropped++;
          console.error("reflex: local mode stopped before a Slack request's work started; dropped it");
          return;
        }
        await this.#run(work);
      })
      .catch((err) => console.error("reflex: slack work failed:", err))
      .finally(() => this.#running.delete(done));
    this.#running.add(done);
    return true;
  }

  /** Refuses new work, drops what has not started, and resolves once what has started is done. */
  async stop(): Promise<void> {
    this.#stopped = true;
    while (this.#running.size) await Promise.all([...this.#running]);
  }
}
