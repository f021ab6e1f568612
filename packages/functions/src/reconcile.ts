/**
 * The reconciler, on a schedule (every 15 minutes): closes runs whose end Reflex never heard of
 * (a lost status event, a start that never reached Step Functions), releasing their locks.
 */
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import middy from "@middy/core";
import { Runs, Steps } from "@reflex/core";
import { loadConfigFromEnv, logger } from "./lib/runtime.ts";

loadConfigFromEnv();

export const handler = middy<unknown, { closed: number }>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .handler(async () => {
    const closed = await Runs.reconcile({ olderThanMs: 10 * 60_000, inspectLost: Steps.inspectLost });
    for (const c of closed) logger.warn("closed a run Reflex had lost track of", { ...c });
    return { closed: closed.length };
  });
