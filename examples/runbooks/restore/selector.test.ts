/**
 * A drill with a `selector` instead of a `source`: each run drills one of the tagged instances
 * that has a completed Reflex backup, in turn (`pick: latest`). One local mode for the file.
 */
import type { SimulatedCloud } from "@reflex/local/cloud/index";
import {
  manageWithSsm,
  mutatingCalls,
  openSimulation,
  type Simulation,
  type SimulationSession,
} from "@reflex/sdk/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { drillSchema, restore } from "./index.ts";
import { chooseInstance } from "./steps.ts";

const HOUR = 3_600_000;
const managed = { "reflex:managed": "true" };

interface Fixture {
  /** db-1..db-3 (tagged Tier=db, backed up 3 h, 2 h and 1 h ago): snapshot id by instance. */
  backedUp: Record<string, string>;
  /** Tagged Tier=db but never backed up; and backed up but not tagged. */
  noBackup: string;
  untagged: string;
  scratch: string;
}
let fx: Fixture;

function backup(cloud: SimulatedCloud, instanceId: string, volumeId: string, ago: number): string {
  return cloud.addSnapshot({
    volumeId,
    state: "completed",
    startTime: Date.now() - ago,
    tags: {
      ...managed,
      "reflex:runbook": "backup-snapshot",
      "reflex:execution-id": `backup-${instanceId}`,
      "reflex:source-instance": instanceId,
      "reflex:source-volume": volumeId,
      "reflex:device": "/dev/xvda",
    },
  }).SnapshotId as string;
}

function prepare(cloud: SimulatedCloud): void {
  const add = (name: string, tags: Record<string, string>) => {
    const i = cloud.addInstance({ name, volumeSizes: [8], tags, availabilityZone: "us-east-1b" });
    return { id: i.InstanceId as string, volume: i.BlockDeviceMappings?.[0]?.Ebs?.VolumeId as string };
  };
  const backedUp: Record<string, string> = {};
  // db-3's newest backup is the oldest: latest picks it first.
  for (const [name, ago] of [
    ["db-1", 1],
    ["db-2", 2],
    ["db-3", 3],
  ] as const) {
    const i = add(name, { ...managed, Tier: "db" });
    backedUp[i.id] = backup(cloud, i.id, i.volume, ago * HOUR);
  }
  const noBackup = add("db-4", { ...managed, Tier: "db" }).id;
  const other = add("web-1", { ...managed, Tier: "web" });
  backup(cloud, other.id, other.volume, 5 * HOUR);
  const scratch = add("scratch-1", managed).id;
  manageWithSsm(cloud, [scratch]);
  fx = { backedUp, noBackup, untagged: other.id, scratch };
}

let s: SimulationSession;
beforeAll(async () => {
  s = await openSimulation(restore, {
    setup: prepare,
    config: () => ({
      drills: [
        {
          name: "db",
          selector: { tag: { Tier: "db" } },
          isolate: { instanceId: fx.scratch },
          targets: { rtoMinutes: 30, rpoMinutes: 600 },
        },
        {
          name: "nobody",
          selector: { tag: { Tier: "none" } },
          isolate: { instanceId: fx.scratch },
          targets: { rtoMinutes: 30, rpoMinutes: 600 },
        },
      ],
    }),
  });
}, 60_000);
afterAll(() => s?.close());

/** The instance whose backup a run restored (by the snapshot its volume was made from). */
const drilled = (sim: Simulation) => {
  const made = mutatingCalls(sim).filter((c) => c.operation === "CreateVolume" && !c.error);
  const ids = made.map((c) => (c.input as { SnapshotId?: string }).SnapshotId);
  return Object.keys(fx.backedUp).filter((i) => ids.includes(fx.backedUp[i]));
};

describe("a drill with a selector", () => {
  it("three drills of three tagged instances drill each once, the one whose newest backup is oldest first, then again from the first", async () => {
    const order: string[][] = [];
    for (let n = 0; n < 4; n++) {
      const sim = await s.run({ drill: "db" });
      expect(sim.run.status).toBe("SUCCEEDED");
      order.push(drilled(sim));
    }

    const [db1, db2, db3] = Object.keys(fx.backedUp);
    expect(order).toEqual([[db3], [db2], [db1], [db3]]);
    expect(order.flat()).not.toContain(fx.noBackup);
    expect(order.flat()).not.toContain(fx.untagged);
  });

  it("is refused before it starts when no tagged instance has a complete backup (400 NoBackup at drill)", async () => {
    const res = await fetch(`${s.url}/api/runbooks/restore/executions`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-reflex-actor": "cli:test" },
      body: JSON.stringify({ params: { drill: "nobody" }, dryRun: false }),
    });

    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; path?: string; message: string } };
    expect(body.error).toMatchObject({ code: "NoBackup", path: "drill" });
    expect(body.error.message).toMatch(/no instance tagged Tier=none/);
  });
});

describe("a drill's source or selector (config check)", () => {
  const base = {
    name: "db",
    isolate: { instanceId: "i-0123456789abcdef0" },
    targets: { rtoMinutes: 30, rpoMinutes: 600 },
  };
  it.each([
    ["both", { source: { instanceId: "i-0123456789abcdef1" }, selector: { tag: { Tier: "db" } } }],
    ["neither", {}],
  ])("refuses %s, naming source", (_, extra) => {
    const r = drillSchema.safeParse({ ...base, ...extra });

    expect(r.success).toBe(false);
    expect(r.error?.issues).toContainEqual(
      expect.objectContaining({ path: ["source"], message: "give exactly one of source and selector" }),
    );
  });

  it("refuses a selector with no tag", () => {
    const r = drillSchema.safeParse({ ...base, selector: { tag: {} } });

    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.path).toEqual(["selector", "tag"]);
  });

  it("accepts a selector alone", () => {
    expect(drillSchema.safeParse({ ...base, selector: { tag: { Tier: "db" } } }).success).toBe(true);
  });
});

describe("which tagged instance a drill picks", () => {
  const candidates = [
    { instanceId: "i-a", newest: 3 },
    { instanceId: "i-b", newest: 1 },
    { instanceId: "i-c", newest: 2 },
  ];

  it("latest: one never picked before one picked, the one picked longest ago next, ties by the oldest newest backup", () => {
    expect(chooseInstance(candidates, new Map(), "latest")).toBe("i-b");
    expect(chooseInstance(candidates, new Map([["i-b", 10]]), "latest")).toBe("i-c");
    expect(
      chooseInstance(
        candidates,
        new Map([
          ["i-a", 30],
          ["i-b", 10],
          ["i-c", 20],
        ]),
        "latest",
      ),
    ).toBe("i-b");
  });

  it("random: over 200 drills every candidate is picked, whatever was picked before", () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed / 2_147_483_648;
    };
    const seen = new Set<string>();
    for (let n = 0; n < 200; n++)
      seen.add(chooseInstance(candidates, new Map([["i-b", 1]]), "random", random));

    expect([...seen].sort()).toEqual(["i-a", "i-b", "i-c"]);
  });
});
