/**
 * What tests, `reflex chaos` and the demo use to set up and break the parts of the simulated
 * account failover depends on: Route 53's INSYNC delay, Elastic IPs, status checks, CloudWatch
 * alarms and metric values, and HTTP health probes. The code under test never calls these; it
 * sees their effects through the real SDK clients (and, for probes, the probe transport local
 * mode installs, `probe`).
 */
import type { StateValue } from "@aws-sdk/client-cloudwatch";
import { cloudWatchState, dimensionKey } from "./cloudwatch.ts";
import { allocateAddress, associate, type CheckStatus } from "./eip.ts";
import { launchInstance, type OpContext } from "./fleet.ts";
import { availabilityZones, tagsFromRecord, tagValue } from "./model.ts";
import { addZone, fqdn, type RecordSetRecord, route53State } from "./route53.ts";

/** A probe URL made to fail: `status` (0: connection refused), after `after` healthy answers, `times` times (forever when unset). */
export interface ProbeRule {
  url: string;
  status: number;
  after: number;
  times?: number;
}

/** The demo pair `reflex start` seeds and `reflex.config.ts` names (fixed ids, so the config can). */
export const DEMO_PAIR = {
  name: "app",
  region: "us-east-1",
  primary: { instance: "i-0a0a0a0a0a0a0a0a1", name: "app-a", privateIp: "10.0.200.11" },
  standby: { instance: "i-0b0b0b0b0b0b0b0b2", name: "app-b", privateIp: "10.0.200.12" },
  allocationId: "eipalloc-0e1e1e1e1e1e1e1e1",
  publicIp: "203.0.113.10",
  hostedZoneId: "Z0REFLEXDEMO01",
  zone: "example.internal",
  record: "app.example.internal",
} as const;

export class FailoverControls {
  readonly #context: (region?: string) => OpContext;
  readonly #save: () => void;

  constructor(context: (region?: string) => OpContext, save: () => void) {
    this.#context = context;
    this.#save = save;
  }

  /** How long a Route 53 change stays PENDING before INSYNC (applies to changes made after). */
  setInsyncDelay(ms: number): void {
    route53State(this.#context()).insyncDelayMs = ms;
    this.#save();
  }

  addHostedZone(id: string, name: string, records: RecordSetRecord[] = []): void {
    addZone(this.#context(), id, name, records);
    this.#save();
  }

  /** A record set's values now, or undefined when it does not exist. */
  recordValues(zoneId: string, name: string, type = "A"): string[] | undefined {
    const zone = route53State(this.#context()).zones.find((z) => z.id === zoneId);
    return zone?.records.find((r) => r.name === fqdn(name) && r.type === type)?.values;
  }

  allocateAddress(spec: {
    publicIp: string;
    allocationId?: string;
    instanceId?: string;
    region?: string;
  }): string {
    const ctx = this.#context(spec.region);
    const a = allocateAddress(ctx, spec.publicIp, spec.allocationId);
    if (spec.instanceId) associate(ctx, a, spec.instanceId, false);
    this.#save();
    return a.allocationId;
  }

  /** Which instance an Elastic IP is on (undefined: none). */
  addressInstance(allocationId: string, region?: string): string | undefined {
    return this.#context(region).rs.addresses?.find((a) => a.allocationId === allocationId)?.instanceId;
  }

  /** Sets an instance's status checks (running instances report `ok` unless set). */
  setStatusChecks(
    instanceId: string,
    checks: { system?: CheckStatus; instance?: CheckStatus },
    region?: string,
  ): void {
    const ctx = this.#context(region);
    ctx.rs.statusChecks ??= {};
    const now = ctx.rs.statusChecks[instanceId] ?? { system: "ok", instance: "ok" };
    ctx.rs.statusChecks[instanceId] = { ...now, ...checks };
    this.#save();
  }

  /** Creates or sets a CloudWatch alarm's state (a new alarm is a metric alarm unless `composite`). */
  setAlarm(
    name: string,
    state: StateValue,
    reason = `set by a test: ${state}`,
    region?: string,
    opts: { composite?: boolean } = {},
  ): void {
    const ctx = this.#context(region);
    const alarms = cloudWatchState(ctx).alarms;
    const existing = alarms.find((a) => a.name === name);
    if (existing) Object.assign(existing, { state, reason, updatedAt: ctx.now });
    else
      alarms.push({
        name,
        state,
        reason,
        updatedAt: ctx.now,
        ...(opts.composite ? { composite: true } : {}),
      });
    this.#save();
  }

  /** Adds a metric datapoint (default: now). */
  putMetric(point: {
    namespace: string;
    metricName: string;
    dimensions?: Record<string, string>;
    value: number;
    at?: number;
    region?: string;
  }): void {
    const ctx = this.#context(point.region);
    cloudWatchState(ctx).metrics.push({
      namespace: point.namespace,
      metricName: point.metricName,
      dimensions: dimensionKey(point.dimensions ?? {}),
      at: point.at ?? ctx.now,
      value: point.value,
    });
    this.#save();
  }

  /** Makes a probe URL fail with `status` (0: connection refused), optionally after some healthy answers. */
  failProbe(url: string, opts: { status?: number; after?: number; times?: number } = {}): void {
    const state = this.#context().state;
    state.probes = [
      ...(state.probes ?? []).filter((p) => p.url !== url),
      { url, status: opts.status ?? 503, after: opts.after ?? 0, times: opts.times },
    ];
    this.#save();
  }

  /** Probes answer normally again. */
  healProbes(): void {
    this.#context().state.probes = [];
    this.#save();
  }

  /**
   * Answers an HTTP health probe, as the probe transport: a failed URL as set; otherwise, when
   * the URL's host names an instance (its Name tag, id or private IP, or an Elastic IP on it),
   * 200 while it runs and connection refused when it does not; any other host, 200.
   */
  readonly probe = async (url: string): Promise<{ status: number }> => {
    const ctx = this.#context();
    const rule = ctx.state.probes?.find((p) => p.url === url);
    if (rule && rule.after > 0) rule.after--;
    else if (rule && rule.times !== 0) {
      if (rule.times !== undefined) rule.times--;
      if (rule.status === 0) throw new Error(`connect ECONNREFUSED (${url})`);
      return { status: rule.status };
    }
    const host = new URL(url).hostname;
    for (const region of Object.keys(ctx.state.regions)) {
      const rctx = this.#context(region);
      const byAddress = rctx.rs.addresses?.find((a) => a.publicIp === host)?.instanceId;
      const instance = rctx.rs.instances.find((i) => {
        const name = tagValue(i.tags, "Name");
        return (
          i.id === host ||
          i.privateIp === host ||
          i.id === byAddress ||
          (name && (host === name || host.startsWith(`${name}.`)))
        );
      });
      if (instance) {
        if (instance.state !== "running") throw new Error(`connect ECONNREFUSED ${host}:80`);
        return { status: 200 };
      }
    }
    return { status: 200 };
  };

  /**
   * Seeds the demo pair (once): app-a (primary) and app-b (standby), running, tagged for
   * Reflex; the Elastic IP on app-a; zone example.internal with app → app-a's address; health
   * alarms app-a-health / app-b-health OK; a replication-lag datapoint of 2 s for each.
   */
  seedDemoPair(): typeof DEMO_PAIR {
    const d = DEMO_PAIR;
    const ctx = this.#context(d.region);
    if (ctx.rs.instances.some((i) => i.id === d.primary.instance)) return d;
    const zones = availabilityZones(d.region);
    [d.primary, d.standby].forEach((side, n) => {
      const record = launchInstance(ctx, {
        instanceType: "m5.large",
        az: zones[n],
        tags: tagsFromRecord({ Name: side.name, Role: "app", "reflex:managed": "true" }),
        volumeSizes: [20],
        state: "running",
      });
      // Fixed ids and addresses, so the demo config can name them.
      for (const v of ctx.rs.volumes)
        if (v.attachment?.instanceId === record.id) v.attachment.instanceId = side.instance;
      record.id = side.instance;
      record.privateIp = side.privateIp;
    });
    const a = allocateAddress(ctx, d.publicIp, d.allocationId, tagsFromRecord({ "reflex:managed": "true" }));
    associate(ctx, a, d.primary.instance, false);
    addZone(ctx, d.hostedZoneId, d.zone, [
      { name: d.record, type: "A", ttl: 60, values: [d.primary.privateIp] },
    ]);
    const cw = cloudWatchState(ctx);
    for (const side of [d.primary, d.standby])
      cw.alarms.push({ name: `${side.name}-health`, state: "OK", reason: "seeded", updatedAt: ctx.now });
    this.#save();
    for (const side of [d.primary, d.standby])
      this.putMetric({
        namespace: "Reflex/Demo",
        metricName: "ReplicationLagSeconds",
        dimensions: { InstanceId: side.instance },
        value: 2,
        region: d.region,
      });
    return d;
  }
}
