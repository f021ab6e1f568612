/**
 * Local mode: the whole backend in one process on 127.0.0.1, with no AWS account. It swaps
 * endpoints, not implementations: dynalite for DynamoDB, s3rver for S3, the local engine for
 * Step Functions (running the same ASL and the same step handler), and the simulated AWS
 * account attached to the real EC2 / Auto Scaling clients as middleware.
 */

import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import type { Server } from "node:http";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import {
  Alarms,
  Approvals,
  Audit,
  AuditTrail,
  Aws,
  ChatOps,
  type Config,
  Executions,
  Gate,
  HistoryReports,
  Locations,
  must,
  Organization,
  Runbooks,
  Runs,
  Steps,
  substitute,
  tableName,
  useConfig,
} from "@reflex/core";
import { useProbeTransport } from "@reflex/core/runbooks/failover/probe";
import { handler as apiHandler } from "@reflex/functions/api";
import { handler as auditWriterHandler, useReceiptCheck } from "@reflex/functions/audit-writer";
import { toEnvelope } from "@reflex/functions/events-api";
import { handler as statusHandler } from "@reflex/functions/execution-status";
import { handler as fanOutHandler } from "@reflex/functions/fan-out";
import { handler as scheduleHandler } from "@reflex/functions/schedule";
import { handler as stepHandler } from "@reflex/functions/step";
import { handler as triggerHandler } from "@reflex/functions/trigger";
import { followActivity, type Writer } from "./activity.ts";
import { LocalAuditQueue } from "./audit-queue.ts";
import { LOCAL_AUDIT_BUCKET, type LocalSealer, startLocalSealer } from "./audit-sealer.ts";
import { LocalBus } from "./bus.ts";
import { CLAIM_FILE, PORT_FILE, type PortFile, readPortFile, writerAlive } from "./cli/transport.ts";
import { SIMULATED_SERVICES, SimulatedCloud, withExecution } from "./cloud/index.ts";
import { SimulatedOrganization } from "./cloud/organization.ts";
import { LocalStepFunctions } from "./engine/local-sfn.ts";
import { callSdk } from "./engine/sdk-task.ts";
import { asFunction, invoke } from "./lambda.ts";
import { LOCAL_PREFIXES, localRoute } from "./local-api.ts";
import { Outbox } from "./outbox.ts";
import { type ScheduledJob, startScheduler } from "./scheduler.ts";
import { type ServerDeps, startServer } from "./server.ts";
import { SlackWork } from "./slack-work.ts";
import type { LocalIdp } from "./sso.ts";
import { ConsoleAuth } from "./sso-authorizer.ts";
import { ensureBucket, ensureTable, S3RVER_CREDENTIALS, type Storage, startStorage } from "./storage.ts";
import { startWorm, type Worm } from "./worm.ts";

export const LOCAL_ACCOUNT = "000000000000";
export const LOCAL_BUCKET = "reflex-local-reports";
export const STATE_MACHINE_PREFIX = "reflex-local-";

export interface LocalOptions {
  config: Config;
  /** 0 picks a free port. Default 8787. */
  port?: number;
  /** Where DynamoDB, S3 and the simulated cloud keep their data; null keeps it in memory/tmp (tests). */
  dataDir?: string | null;
  /** A simulated cloud to use; default a seeded one (persisted under dataDir). */
  cloud?: SimulatedCloud;
  /**
   * Member accounts beside the hub's cloud (`reflex start --accounts 3 --regions 2`): a simulated
   * cloud per account, simulated STS. When the config names no `accounts`, these become them.
   */
  accounts?: { count: number; regions?: string[] } | SimulatedOrganization;
  /** Real wait of each ASL Wait state, ms (default 1000). */
  waitMs?: number;
  /** How long simulated snapshots take to complete, ms (default 3000). */
  snapshotDurationMs?: number;
  /** Fire the config's schedules (default true). */
  scheduler?: boolean;
  /** How long a closed execution stays whole in the engine, and how many summaries it keeps (see local-sfn.ts). */
  retention?: { keepWholeMs?: number; keepFinished?: number };
  /** Extra HTTP routes by prefix (later capabilities plug in here). */
  routes?: ServerDeps["routes"];
  /** No line per event decision and run transition (`reflex start --quiet`). */
  quiet?: boolean;
  /**
   * `reflex start --sso`: an OIDC provider on loopback (sso.ts) and the console signed in
   * through it; the JSON API checks its tokens as API Gateway's JWT authorizer does.
   */
  sso?: boolean;
  /** Where those lines go (default stdout). */
  activity?: Writer;
  /**
   * Called on every AWS SDK client the process builds, after local mode's own decoration (the
   * differential tests record every cloud call with it, against either cloud).
   */
  decorateClient?: (service: string, client: Aws.SdkClient, region: string) => void;
  /**
   * Called as the start enters a phase after the server listens, and awaited: tests hold the
   * start there to see what a request meets in that window (`listening`: the store's endpoints
   * not set yet; `recovering`: the runs the last process left not recovered yet).
   */
  atPhase?: (phase: StartPhase, url: string) => Promise<void> | void;
}

/** The phases of a start between listening and ready (see {@link LocalOptions.atPhase}). */
export type StartPhase = "listening" | "recovering";

export interface LocalMode {
  url: string;
  bus: LocalBus;
  /** What ChatOps would have posted to Slack. */
  outbox: Outbox;
  config: Config;
  /** The simulated account (unused, and not served, when {@link realCloud} is set). */
  cloud: SimulatedCloud;
  /** The hub (`cloud`), the member accounts' clouds and STS between them. */
  organization: SimulatedOrganization;
  /**
   * Set with `REFLEX_CLOUD=aws`: runbooks reach the account the AWS credentials name (or the
   * `REFLEX_ENDPOINT_<SERVICE>` endpoints, e.g. moto), not the simulated one.
   */
  realCloud?: RealCloud;
  engine: LocalStepFunctions;
  storage: Storage;
  jobs: ScheduledJob[];
  /** The audit sealer (runs every minute with the scheduler) and the WORM emulation in front of s3rver. */
  audit: { sealer: LocalSealer; worm: Worm };
  /** With `sso`: the loopback identity provider the console signs in through. */
  idp?: LocalIdp;
  /** Waits until every run started so far has ended and been closed. */
  idle(): Promise<void>;
  /** Waits until the local Slack notifier has handled every lifecycle event put on the bus so far. */
  notified(): Promise<void>;
  stop(): Promise<void>;
}

export interface RealCloud {
  /** The cloud services whose endpoint is overridden (`REFLEX_ENDPOINT_<SERVICE>`), by service. */
  endpoints: Partial<Record<string, string>>;
}

/** `REFLEX_CLOUD=aws`: the cloud services' endpoints as the client factory will use them. */
function realCloudFromEnv(): RealCloud | undefined {
  if (process.env.REFLEX_CLOUD !== "aws") return undefined;
  const endpoints: Partial<Record<string, string>> = {};
  for (const service of SIMULATED_SERVICES) {
    const endpoint = process.env[Aws.envName(service)];
    if (endpoint) endpoints[service] = endpoint;
  }
  return { endpoints };
}

function defaultEnv(name: string, value: string): void {
  if (!process.env[name]) process.env[name] = value;
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1", "[::1]"]);

/**
 * Where local mode's clients may send a request: 127.0.0.1 (dynalite, s3rver, this server's
 * Step Functions and EventBridge), and AWS only for the cloud services when `REFLEX_CLOUD=aws`.
 * The simulated cloud answers its services in-process, before this check; a service with no
 * local endpoint (SQS, Scheduler) is refused rather than sent to AWS.
 */
export function localGuard(realCloud: boolean): NonNullable<Aws.AwsOptions["guard"]> {
  return (service, hostname) => {
    if (LOOPBACK.has(hostname)) return undefined;
    if (
      realCloud &&
      ((SIMULATED_SERVICES as readonly string[]).includes(service) ||
        service === "sts" ||
        service === "organizations")
    )
      return undefined;
    return realCloud
      ? "local mode reaches AWS only for the cloud services (REFLEX_CLOUD=aws)"
      : "local mode reaches nothing but 127.0.0.1 (set REFLEX_CLOUD=aws to use a real account's cloud services)";
  };
}

/** Once local mode has stopped, nothing may be sent anywhere: its endpoints are gone. */
const stoppedGuard: NonNullable<Aws.AwsOptions["guard"]> = () => "local mode has stopped";

/**
 * Starts local mode. The phases, in order: refuse a runbook the simulated cloud cannot answer;
 * the process's environment (dummy credentials, the guard); the data dir; the store; the cloud;
 * the engine; the bus and ChatOps; the HTTP server; the endpoints every client uses from then on;
 * the runs the last process left; the scheduler.
 */
export async function startLocal(opts: LocalOptions): Promise<LocalMode> {
  refuseUnsimulatedRunbooks();
  const { region, useRealCloud } = localEnvironment();
  const { dataDir, releaseDataDir } = openDataDir(opts.dataDir);
  // What is open once the store is: closed again if the start fails (left open, they keep
  // `reflex start` alive after it has said it failed, answering `starting`, and hold the data dir;
  // in a process that goes on, the store's servers and the transports outlive the failed start).
  const opened: {
    storage?: Storage;
    engine?: LocalStepFunctions;
    activity?: ReturnType<typeof followActivity>;
    server?: Server;
    worm?: Worm;
    idp?: LocalIdp;
  } = {};
  const keys = auditKeysDir(dataDir);
  const abandon = async () => {
    opened.activity?.stop();
    await opened.engine?.close();
    if (opened.server) await closeServer(opened.server);
    await opened.worm?.close();
    await opened.idp?.stop();
    await opened.storage?.close();
    keys.release();
    releaseDataDir();
    useProbeTransport();
    ChatOps.Transport.useTransport(undefined);
    Audit.useTransport(undefined);
    useReceiptCheck(undefined);
    Aws.configure({ guard: stoppedGuard });
  };
  const { storage, cloud, organization, engine } = await abandonOnFailure(abandon, async () => {
    const storage = await openStorage(dataDir, region);
    opened.storage = storage;
    const cloud = localCloud(opts, dataDir);
    const organization = localOrganization(opts, cloud);
    useConfig(opts.config);
    // A fresh store: nothing this process remembers about dedup claims or alarm states applies to it.
    Gate.Dedup.forgetLocal();
    Alarms.forgetLocal();
    // Refuses a team's runbook whose ASL is not valid.
    opened.engine = startEngine(opts, region);
    return { storage, cloud, organization, engine: opened.engine };
  });

  const { bus, activity } = startBus(opts);
  opened.activity = activity;
  const outbox = new Outbox();
  ChatOps.Transport.useTransport(outbox);
  const life = { stopped: false };
  const notifications = subscribeSlackNotifier(bus, opts.config, life);
  const slackWork = new SlackWork((work: ChatOps.Ack.Work) =>
    asFunction("reflex-local-chatops-worker", () => ChatOps.Worker.handle(work)),
  );
  const realCloud = realCloudFromEnv();
  const { api, routes } = serverRoutes(opts, { cloud, bus, outbox, slackWork, realCloud, activity });
  const consoleAuth = new ConsoleAuth();
  let started: Awaited<ReturnType<typeof startServer>>;
  try {
    started = await startServer({ engine, bus, api, routes, consoleAuth }, opts.port ?? 8787, {
      serving: "none",
    });
  } catch (e) {
    await abandon();
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EADDRINUSE")
      throw new Error(`port ${opts.port} is in use; stop what listens there or pick another --port`, {
        cause: e,
      });
    throw e;
  }
  const { server, url } = started;
  opened.server = server;
  try {
    await opts.atPhase?.("listening", url);
    // The IdP after the server: its one client redirects to the console's page, on this port.
    if (opts.sso) opened.idp = await startSso(opts.config, url, consoleAuth);
    opened.worm = await openAuditExport(storage, dataDir, region, keys.dir);
    const s3Endpoint = opened.worm.endpoint;
    useLocalEndpoints(opts, { storage, s3Endpoint, url, cloud, organization, useRealCloud });
    // The start's own calls to this server's Step Functions and EventBridge may go out from here on.
    started.serve("aws");
    // Config `organization`: the OUs' accounts, through the simulated organization (or AWS).
    Organization.forget();
    await Organization.refresh(opts.config);
    await opts.atPhase?.("recovering", url);
    await recoverRuns(engine);
  } catch (e) {
    await abandon();
    throw e;
  }
  const { idp } = opened;
  const worm = must(opened.worm, "the audit export");

  const jobs =
    opts.scheduler === false
      ? []
      : startScheduler(opts.config, async (payload) => {
          await invoke(scheduleHandler, "reflex-local-schedule", payload);
        });
  const sealer = startLocalSealer(opts.config, opts.scheduler !== false);
  // Ready: everything is served, and only then does the port file tell the CLI where (a request
  // before this got 503 `starting`, not a 500 from a store not set up yet or a run not recovered).
  started.serve("all");
  const portFile = dataDir ? writePortFile(dataDir, url) : undefined;

  return {
    url,
    bus,
    outbox,
    config: opts.config,
    cloud,
    organization,
    ...(realCloud ? { realCloud } : {}),
    engine,
    storage,
    jobs,
    audit: { sealer, worm },
    ...(idp ? { idp } : {}),
    idle: () => engine.idle(),
    async notified() {
      for (let at = notifications.drain(); ; ) {
        await at;
        const next = notifications.drain();
        if (next === at) return;
        at = next;
      }
    },
    async stop() {
      life.stopped = true;
      // Slack work first, while the store and the engine are still up: what has not started is
      // dropped, what has is finished; then the notification in flight, if any.
      await slackWork.stop();
      await notifications.drain();
      activity?.stop();
      if (portFile) removePortFile(portFile);
      releaseDataDir();
      for (const j of jobs) j.stop();
      sealer.stop();
      await engine.close();
      await closeServer(server);
      await worm.close();
      await idp?.stop();
      await storage.close();
      keys.release();
      Aws.configure({ guard: stoppedGuard });
      useProbeTransport();
      ChatOps.Transport.useTransport(undefined);
      Audit.useTransport(undefined);
      useReceiptCheck(undefined);
    },
  };
}

/** Runs `open`; if it throws, closes what the start has opened so far (`abandon`), then throws. */
async function abandonOnFailure<T>(abandon: () => Promise<void>, open: () => Promise<T>): Promise<T> {
  try {
    return await open();
  } catch (e) {
    await abandon();
    throw e;
  }
}

/** The loopback IdP, and the API's token checks against it (issuer, the console's client id). */
async function startSso(config: Config, consoleUrl: string, auth: ConsoleAuth): Promise<LocalIdp> {
  // Loaded only with --sso: oidc-provider (and Koa under it) is no part of a plain start.
  const { startLocalIdp } = await import("./sso.ts");
  const idp = await startLocalIdp({ config, consoleUrl });
  const oidc = config.console.oidc;
  await auth.configure({
    issuer: idp.issuer,
    clientId: idp.clientId,
    scopes: oidc?.scopes ?? ["openid", "profile", "email"],
  });
  return idp;
}

/** Every runbook must be one the simulated cloud can answer for (a real account answers all). */
function refuseUnsimulatedRunbooks(): void {
  if (process.env.REFLEX_CLOUD === "aws") return;
  for (const runbook of Runbooks.list()) {
    const missing = (runbook.services ?? []).filter(
      (s) => !(SIMULATED_SERVICES as readonly string[]).includes(s),
    );
    if (missing.length)
      throw new Error(
        `runbook '${runbook.name}' needs ${missing.join(", ")}, which the simulated cloud does not provide (it has ${SIMULATED_SERVICES.join(", ")}); run it against an account with REFLEX_CLOUD=aws`,
      );
  }
}

/** Dummy credentials and the guard: no SDK client may look for real ones, probe a metadata endpoint, or reach AWS unasked. */
function localEnvironment(): { region: string; useRealCloud: boolean } {
  defaultEnv("AWS_ACCESS_KEY_ID", "local");
  defaultEnv("AWS_SECRET_ACCESS_KEY", "local");
  defaultEnv("AWS_REGION", "us-east-1");
  defaultEnv("AWS_EC2_METADATA_DISABLED", "true");
  defaultEnv("POWERTOOLS_LOG_LEVEL", "WARN");
  const region = process.env.AWS_REGION || "us-east-1";
  const useRealCloud = process.env.REFLEX_CLOUD === "aws";
  // From here on, no client reaches AWS unless REFLEX_CLOUD=aws says so (endpoints come later).
  Aws.configure({ guard: localGuard(useRealCloud) });
  return { region, useRealCloud };
}

/** The data dir, claimed for this process (none with `dataDir: null`: tests keep data in memory). */
function openDataDir(option: LocalOptions["dataDir"]): { dataDir?: string; releaseDataDir: () => void } {
  const dataDir = option === null ? undefined : resolve(option ?? ".reflex");
  if (!dataDir) return { dataDir, releaseDataDir: () => {} };
  refuseBusyDataDir(dataDir);
  mkdirSync(dataDir, { recursive: true });
  return { dataDir, releaseDataDir: claimDataDir(dataDir) };
}

/** dynalite and s3rver, with the state table and the reports bucket, and the environment that names them. */
async function openStorage(dataDir: string | undefined, region: string): Promise<Storage> {
  const storage = await startStorage({ dataDir, region });
  // Access with no `access` section: the local user may do everything (deployed: nobody).
  process.env.REFLEX_LOCAL_MODE = "1";
  process.env.REFLEX_TABLE = process.env.REFLEX_TABLE || "reflex-local-state";
  process.env.REFLEX_BUCKET = LOCAL_BUCKET;
  process.env.REFLEX_STATE_MACHINE_ARN_PREFIX = `arn:aws:states:${region}:${LOCAL_ACCOUNT}:stateMachine:${STATE_MACHINE_PREFIX}`;
  try {
    await ensureTable(storage.dynamoEndpoint, region, tableName());
    await ensureBucket(storage.s3Endpoint, region, LOCAL_BUCKET);
  } catch (e) {
    // Left open, dynalite and s3rver keep `reflex start` alive after it has said it failed.
    await storage.close();
    throw e;
  }
  // Audit entries go to the audit writer's handler, as the audit queue delivers them deployed.
  const auditQueue = new LocalAuditQueue((event) =>
    invoke(auditWriterHandler, "reflex-local-audit-writer", event),
  );
  Audit.useTransport(auditQueue);
  useReceiptCheck(auditQueue.confirm);
  return storage;
}

/**
 * Where the audit signing key is kept: `<dataDir>/keys`, or without a data dir a temporary dir
 * that `release()` removes (with the environment naming it), so that no stop leaves a key behind.
 */
function auditKeysDir(dataDir: string | undefined): { dir: string; release(): void } {
  if (dataDir) return { dir: join(dataDir, "keys"), release() {} };
  const dir = mkdtempSync(join(tmpdir(), "reflex-keys-"));
  return {
    dir,
    release() {
      rmSync(dir, { recursive: true, force: true });
      if (process.env.REFLEX_AUDIT_KEYS_DIR === dir) delete process.env.REFLEX_AUDIT_KEYS_DIR;
    },
  };
}

/**
 * The sealed audit trail's local half: the WORM emulation in front of s3rver (every S3 request
 * goes through it), the export bucket, the signing key in `keysDir`, and the environment that
 * names them (core's AuditTrail reads it).
 */
async function openAuditExport(
  storage: Storage,
  dataDir: string | undefined,
  region: string,
  keysDir: string,
): Promise<Worm> {
  const worm = await startWorm(storage.s3Endpoint, dataDir ? join(dataDir, "worm.json") : undefined);
  await ensureBucket(storage.s3Endpoint, region, LOCAL_AUDIT_BUCKET);
  process.env.REFLEX_AUDIT_KEYS_DIR = keysDir;
  // The key exists from the start (made on first use), so `reflex audit keys` lists it.
  AuditTrail.signer();
  process.env.REFLEX_AUDIT_BUCKET = LOCAL_AUDIT_BUCKET;
  process.env.REFLEX_AUDIT_HUB = "local";
  return worm;
}

/** The simulated account: the one passed in, or a seeded one kept under the data dir. */
function localCloud(opts: LocalOptions, dataDir: string | undefined): SimulatedCloud {
  if (opts.cloud) return opts.cloud;
  const cloud = SimulatedCloud.seeded({
    snapshotDurationMs: opts.snapshotDurationMs ?? 3000,
    persistPath: dataDir ? join(dataDir, "cloud.json") : undefined,
  });
  // The demo pair the shipped reflex.config.ts names (a cloud passed in brings its own).
  cloud.failover.seedDemoPair();
  return cloud;
}

/**
 * The member accounts `--accounts` asks for, with the hub's cloud, on the hub's clock. A config
 * that names no accounts gets these (in memory: the file is not written).
 */
function localOrganization(opts: LocalOptions, cloud: SimulatedCloud): SimulatedOrganization {
  if (opts.accounts instanceof SimulatedOrganization) return opts.accounts;
  const org = SimulatedOrganization.create({
    hub: cloud,
    accounts: opts.accounts?.count ?? 0,
    regions: opts.accounts?.regions,
    cloud: { snapshotDurationMs: opts.snapshotDurationMs ?? 3000 },
  });
  if (opts.config.accounts.length === 0 && !opts.config.organization && org.accounts.length > 0)
    opts.config.accounts = org.accounts;
  return org;
}

/** The local Step Functions engine, with every runbook's state machine registered. */
function startEngine(opts: LocalOptions, region: string): LocalStepFunctions {
  // The fan-out over many locations: its own state machine and function, as deployed.
  const fanOutArn = `arn:aws:lambda:${region}:${LOCAL_ACCOUNT}:function:reflex-local-fan-out`;
  const engine = new LocalStepFunctions({
    handlers: {
      [fanOutArn]: (payload) =>
        invoke(fanOutHandler, "reflex-local-fan-out", payload as Locations.FanOutStep),
    },
    region,
    account: LOCAL_ACCOUNT,
    waitMs: opts.waitMs ?? 1000,
    retryMs: 100,
    ...opts.retention,
    // Calls a step makes are attributed to its execution in the simulated cloud's call log.
    stepHandler: (payload) =>
      withExecution((payload as Steps.StepEvent).input?.execution?.id, () =>
        invoke(stepHandler, "reflex-local-step", payload as Steps.StepEvent),
      ),
    onStatusChange: (event) => invoke(statusHandler, "reflex-local-execution-status", event as never),
    // A Task with no Lambda (`aws()` in a runbook): the SDK call, attributed to its run.
    sdkHandler: (resource, input, executionName) =>
      withExecution(executionName, () => callSdk(resource, input)),
  });
  for (const runbook of Runbooks.list()) {
    const machine = engine.registerRunbook(runbook, STATE_MACHINE_PREFIX);
    // A team's own runbook is refused here, at start, when its ASL is bad; the built-ins' (and
    // the fan-out's) are checked in CI (test/asl.test.ts), and again before their first run.
    if (!Runbooks.isBuiltIn(runbook.name)) engine.validate(machine.arn);
  }
  engine.register(
    `${STATE_MACHINE_PREFIX}${Locations.FAN_OUT_MACHINE}`,
    substitute(Locations.fanOutStateMachine(), { FanOutHandlerArn: fanOutArn }),
  );
  return engine;
}

/** The event bus, each event through the trigger handler, and (unless quiet) a line per decision and run transition. */
function startBus(opts: LocalOptions): { bus: LocalBus; activity?: ReturnType<typeof followActivity> } {
  process.env.REFLEX_EVENT_BUS = process.env.REFLEX_EVENT_BUS || "reflex-local";
  const lines: { activity?: ReturnType<typeof followActivity> } = {};
  const bus = new LocalBus(process.env.REFLEX_EVENT_BUS, async (event) => {
    const decisions = await invoke(triggerHandler, "reflex-local-trigger", event);
    lines.activity?.decided(event, decisions);
  });
  if (!opts.quiet)
    lines.activity = followActivity(bus, opts.activity ?? ((line) => process.stdout.write(`${line}\n`)));
  return { bus, activity: lines.activity };
}

/** The API (through its middy handler) and the routes only local mode has, one Hono app. */
function serverRoutes(
  opts: LocalOptions,
  deps: Parameters<typeof localRoute>[0] & { activity?: ReturnType<typeof followActivity> },
): { api: ServerDeps["api"]; routes: NonNullable<ServerDeps["routes"]> } {
  const { activity, ...localDeps } = deps;
  // The routes only local mode has (the simulated account, lifecycle, outbox, Slack), one Hono app.
  const local = localRoute(localDeps);
  // Through the middy handler, as the Lambda runs it (middy, Hono's Lambda adapter, the app;
  // `POST /events` too, as API Gateway routes it to the same function): its logs name the API,
  // not the last function that happened to run in this process.
  const api: ServerDeps["api"] = (event) => invoke(apiHandler, "reflex-local-api", event);
  const routes: NonNullable<ServerDeps["routes"]> = [
    // `POST /events` is the API's (as API Gateway routes it); here it is also reported on the
    // activity lines, one per decision.
    {
      prefix: "/events",
      handle: async (event) => {
        const res = await api(event);
        if (activity) reportDecisions(activity, event, res);
        return res;
      },
    },
    ...LOCAL_PREFIXES.map((prefix) => ({ prefix, handle: local })),
    ...(opts.routes ?? []),
  ];
  return { api, routes };
}

/** Every client from now on: the local store and this server's endpoints, the simulated cloud attached. */
function useLocalEndpoints(
  opts: LocalOptions,
  {
    storage,
    url,
    cloud,
    organization,
    useRealCloud,
    s3Endpoint,
  }: {
    storage: Storage;
    s3Endpoint: string;
    url: string;
    cloud: SimulatedCloud;
    organization: SimulatedOrganization;
    useRealCloud: boolean;
  },
): void {
  Aws.configure({
    endpoints: { dynamodb: storage.dynamoEndpoint, s3: s3Endpoint, sfn: url, eventbridge: url },
    credentials: { s3: S3RVER_CREDENTIALS },
    decorate: (service, client, clientRegion, account) => {
      // The simulated cloud leaves the services it does not simulate alone; a member account's
      // client is answered by the account its session belongs to (STS is simulated too).
      if (!useRealCloud) organization.attach(client, service, clientRegion, account);
      opts.decorateClient?.(service, client, clientRegion);
    },
    guard: localGuard(useRealCloud),
  });
  // Health probes of failover pairs reach the simulated account's instances, not the network.
  if (!useRealCloud) useProbeTransport(cloud.failover.probe);
}

/**
 * Runs in flight when local mode last stopped cannot resume (the local engine keeps executions
 * in memory): the reconciler closes them, as it closes lost runs in AWS. Runs that were waiting
 * for a person when local mode stopped wait again, at the same state, with what is left of their
 * deadline (AWS keeps waiting executions; the local engine keeps them in memory, so it resumes
 * them from the request DynamoDB holds). Fan-outs over many locations still running are started
 * again: every step of theirs is safe to repeat.
 */
async function recoverRuns(engine: LocalStepFunctions): Promise<void> {
  await resumeWaitingRuns(engine);
  // No other process shares this data dir, so every start still STARTING died with the last one.
  const reconciled = await asFunction("reflex-local-reconcile", () =>
    Runs.reconcile({ olderThanMs: 0, inspectLost: Steps.inspectLost }),
  );
  for (const r of reconciled) console.error(`reflex: reconciled ${r.executionId}: ${r.status} (${r.reason})`);
  // Drill reports not written yet (a lost drill closed above, a write that failed): as the reconciler does deployed.
  const reports = await asFunction("reflex-local-reconcile", () => HistoryReports.catchUp());
  for (const r of reports.filter((x) => x.error))
    console.error(`reflex: the report of ${r.executionId} could not be written: ${r.error}`);
  // What ended drills kept (keepFor) and whose time is up: deleted, as the reconciler does deployed.
  await asFunction("reflex-local-reconcile", () => Steps.sweepKept());
  // Fan-outs over many locations go on where they were (their item says what is left; a child
  // the last process started is waited for, not started again), after lost children are closed.
  for (const f of await Locations.running()) await Locations.resume(f.parentId);
}

/**
 * Slack locally: the notifier subscribed to the bus, one event at a time so a run's thread is
 * made once (the signed routes and `GET /api/outbox` are in local-api.ts). With no channel in
 * the config, notifications go to `#reflex-local`.
 */
function subscribeSlackNotifier(
  bus: LocalBus,
  config: Config,
  life: { stopped: boolean },
): { drain: () => Promise<void> } {
  const notifyConfig = ChatOps.Notifier.channelFor(config)
    ? config
    : { ...config, chatops: { ...config.chatops, channel: "reflex-local" } };
  let notifications = Promise.resolve();
  bus.subscribe((e) => {
    notifications = notifications
      .then(() =>
        // Once local mode stops, its outbox is gone: what is still queued is dropped, not
        // sent to the real Slack.
        life.stopped
          ? undefined
          : ChatOps.Notifier.notify(e["detail-type"], e.detail as Record<string, unknown>, {
              config: notifyConfig,
              time: e.time,
            }),
      )
      .catch((err) => console.error("reflex: slack notification failed:", err));
  });
  return { drain: () => notifications };
}

async function resumeWaitingRuns(engine: LocalStepFunctions): Promise<void> {
  let cursor: string | undefined;
  do {
    const page = await Executions.list({ limit: 100, cursor });
    for (const listed of page.executions) {
      if (listed.status !== "WAITING_FOR_APPROVAL") continue;
      const e = await Executions.find(listed.id);
      const req = e ? await Approvals.find(e.id) : undefined;
      // Pending: it waits again. Decided by a person while the run was never told (the answering
      // process died between the two): the wait resumes and is answered from the decision.
      const decided = req?.decision && req.decision.outcome !== "ended";
      if (e?.status !== "WAITING_FOR_APPROVAL" || !(req?.status === "PENDING" || decided) || !req.stateInput)
        continue;
      const remaining = Math.max(1, Math.ceil((Date.parse(req.deadline) - Date.now()) / 1000));
      const stateInput = req.stateInput as { approval?: Record<string, unknown> };
      engine.resumeExecution({
        stateMachineArn: engine.stateMachineArn(`${STATE_MACHINE_PREFIX}${e.runbook}`),
        name: e.id,
        input: Runs.executionInput(e),
        startDate: Date.parse(e.startedAt),
        fromState: req.state,
        stateInput: { ...stateInput, approval: { ...stateInput.approval, deadlineSeconds: remaining } },
      });
    }
    cursor = page.next;
  } while (cursor);
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections?.();
    server.close(() => resolve());
  });
}

/**
 * `<dataDir>/server.json`, so the CLI finds this server whatever port it took (see
 * cli/transport.ts). Written whole (a rename), so a reader never sees half a file.
 */
function writePortFile(dataDir: string, url: string): { path: string; file: PortFile } {
  const path = join(dataDir, PORT_FILE);
  const file: PortFile = {
    url,
    port: Number(new URL(url).port),
    pid: process.pid,
    startedAt: new Date().toISOString(),
  };
  writeFileSync(`${path}.${process.pid}.tmp`, `${JSON.stringify(file, null, 2)}\n`);
  renameSync(`${path}.${process.pid}.tmp`, path);
  return { path, file };
}

/**
 * Refuses a data dir another live `reflex start` serves (its port file says so): the two would
 * share one DynamoDB store — the second dies on the store's lock with "Database is closed", or
 * worse, reconciles the first one's runs in flight as lost. A port file left by a killed start
 * is not in the way (readPortFile checks its process).
 */
function refuseBusyDataDir(dataDir: string): void {
  const path = join(dataDir, PORT_FILE);
  const other = readPortFile(path);
  if (other && other.pid !== process.pid)
    throw new Error(
      `data dir ${dataDir} is in use by another reflex start (pid ${other.pid}, ${other.url}); stop it or pick another --data. If no such server runs, remove ${path}`,
    );
}

/**
 * Claims the data dir for this process before anything opens its store: `<dataDir>/reflex.pid`,
 * created exclusively. The port file is written only once the server is ready, so without this
 * a second start during the first one's startup would reach the store's lock and die on it.
 * A claim whose process is gone is taken over. Returns the release.
 */
function claimDataDir(dataDir: string): () => void {
  const path = join(dataDir, CLAIM_FILE);
  const mine = JSON.stringify({ pid: process.pid, startedAt: new Date().toISOString() });
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      writeFileSync(path, mine, { flag: "wx" });
      return () => {
        try {
          if (readFileSync(path, "utf8") === mine) rmSync(path, { force: true });
        } catch {
          // gone already
        }
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    let held: { pid?: number; startedAt?: string } = {};
    try {
      held = JSON.parse(readFileSync(path, "utf8"));
    } catch {
      // half-written or unreadable: a start that died writing it
    }
    const pid = Number(held.pid);
    if (pid !== process.pid && writerAlive(pid, Date.parse(held.startedAt ?? "")))
      throw new Error(
        `data dir ${dataDir} is in use by another reflex start (pid ${pid}); stop it or pick another --data. If no such server runs, remove ${path}`,
      );
    rmSync(path, { force: true });
  }
  throw new Error(`could not claim data dir ${dataDir}: ${path} keeps coming back`);
}

/** Removes the port file if it is still this server's (another start may have replaced it). */
function removePortFile({ path, file }: { path: string; file: PortFile }): void {
  try {
    const now = JSON.parse(readFileSync(path, "utf8")) as Partial<PortFile>;
    if (now.pid === file.pid && now.startedAt === file.startedAt) rmSync(path, { force: true });
  } catch {
    // Gone or unreadable: nothing of ours to remove.
  }
}

/**
 * Prints `POST /events`' decisions, each with the event it is about: the route answers them in
 * the order of the entries, one or more per entry, all with that entry's event id.
 */
function reportDecisions(
  activity: ReturnType<typeof followActivity>,
  request: Parameters<ServerDeps["api"]>[0],
  res: Awaited<ReturnType<ServerDeps["api"]>>,
): void {
  let results: Gate.Decision[];
  let entries: unknown[] = [];
  try {
    results = (JSON.parse(String(res.body)) as { results?: Gate.Decision[] }).results ?? [];
    const raw = Buffer.from(request.body ?? "", request.isBase64Encoded ? "base64" : "utf8").toString("utf8");
    const body = JSON.parse(raw) as { Entries?: unknown[] };
    entries = Array.isArray(body?.Entries) ? body.Entries : [body];
  } catch {
    return; // refused whole (bad JSON): nothing was decided
  }
  const groups: Gate.Decision[][] = [];
  for (const d of results) {
    const last = groups.at(-1);
    if (last && last[0].eventId === d.eventId) last.push(d);
    else groups.push([d]);
  }
  const known = groups.length === entries.length;
  for (const [i, group] of groups.entries())
    activity.decided(known ? toEnvelope(entries[i]) : undefined, group);
}
