/**
 * Slack work in local mode: what the worker Lambda would do after the acknowledgement, run in
 * this process once the answer has gone. Deployed, the work runs in another Lambda and cannot
 * slow an acknowledgement; here it shares the process (and its embedded DynamoDB) with the
 * acknowledgements, so it is queued behind them: a piece of work starts only while no
 * acknowledgement is being answered, at most `concurrency` at a time. A burst of commands is
 * acknowledged first, its work done after. Stopping drops what has not started and waits for
 * what has, so no work runs against a store that is closing, or after the AWS endpoints are gone.
 */
export class SlackWork<W> {
  readonly #run: (work: W) => Promise<unknown>;
  readonly #concurrency: number;
  readonly #queue: W[] = [];
  readonly #running = new Set<Promise<void>>();
  #acks = 0;
  #pumping = false;
  #stopped = false;
  #dropped = 0;

  constructor(run: (work: W) => Promise<unknown>, opts: { concurrency?: number } = {}) {
    this.#run = run;
    this.#concurrency = Math.max(1, opts.concurrency ?? 2);
  }

  /** True once stopping has begun: new work is refused. */
  get stopped(): boolean {
    return this.#stopped;
  }

  /** Work dropped because local mode stopped before it started. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Work queued and not started (it waits for acknowledgements in progress, or a free slot). */
  get queued(): number {
    return this.#queue.length;
  }

  /**
   * Answers one acknowledgement: while `answer` runs, queued work does not start. Work the
   * acknowledgement queues starts once no acknowledgement is being answered.
   */
  async acknowledging<T>(answer: () => Promise<T>): Promise<T> {
    this.#acks++;
    try {
      return await answer();
    } finally {
      this.#acks--;
      this.#schedule();
    }
  }

  /** Queues one piece of work; false (and nothing queued) once stopping has begun. */
  add(work: W): boolean {
    if (this.#stopped) return false;
    this.#queue.push(work);
    this.#schedule();
    return true;
  }

  /** Starts queued work on a later turn of the event loop, after the answer has been written. */
  #schedule(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    setImmediate(() => {
      this.#pumping = false;
      this.#pump();
    });
  }

  #pump(): void {
    while (!this.#stopped && this.#acks === 0 && this.#running.size < this.#concurrency) {
      const work = this.#queue.shift();
      if (work === undefined) return;
      const done: Promise<void> = Promise.resolve()
        .then(() => this.#run(work))
        .then(() => undefined)
        .catch((err) => console.error("reflex: slack work failed:", err))
        .finally(() => {
          this.#running.delete(done);
          this.#schedule();
        });
      this.#running.add(done);
    }
  }

  /** Refuses new work, drops what has not started, and resolves once what has started is done. */
  async stop(): Promise<void> {
    this.#stopped = true;
    const dropped = this.#queue.splice(0);
    this.#dropped += dropped.length;
    if (dropped.length)
      console.error(
        `reflex: local mode stopped before ${dropped.length} Slack request(s)' work started; dropped it`,
      );
    while (this.#running.size) await Promise.all([...this.#running]);
  }
}
