/**
 * The operations moto 5.2.1 does not implement (it answers them with an HTML 500), answered by
 * the stand-in in front of it (support/moto.ts) — each listed, with what it answers, in
 * docs/testing.md. They answer from what moto holds where they can (which instances exist and
 * run), and otherwise as the simulated cloud's defaults do, so the two clouds start equal:
 *
 * | operation | answers |
 * |---|---|
 * | ssm:DescribeInstanceInformation | the managed instances (the seed says which), `Online` while moto runs them |
 * | ssm:DescribeInstancePatchStates | after an `AWS-RunPatchBaseline` Install sent through the stand-in: 3 installed, none pending reboot |
 * | ssm:CancelCommand | `{}` (moto keeps the command's status) |
 * | ec2:CreateReplaceRootVolumeTask | a task, `succeeded` at once (the root volume in moto is not replaced) |
 * | ec2:DescribeReplaceRootVolumeTasks | the tasks created, by id or `instance-id` filter |
 */
import { DescribeInstancesCommand, EC2Client } from "@aws-sdk/client-ec2";
import type { Moto, StandIn, StandInAnswer, WireCall } from "./moto.ts";

const credentials = { accessKeyId: "local", secretAccessKey: "local" };
const EC2_NS = "http://ec2.amazonaws.com/doc/2016-11-15/";

const json = (body: unknown): StandInAnswer => ({
  contentType: "application/x-amz-json-1.1",
  body: JSON.stringify(body),
});
const ec2Xml = (operation: string, inner: string): StandInAnswer => ({
  contentType: "text/xml;charset=UTF-8",
  body: `<?xml version="1.0" encoding="UTF-8"?>\n<${operation}Response xmlns="${EC2_NS}"><requestId>stand-in</requestId>${inner}</${operation}Response>`,
});
const xml = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** Query-protocol list params (`Prefix.1`, `Prefix.2`, …) in order. */
function listParam(params: Record<string, unknown>, prefix: string): string[] {
  return Object.keys(params)
    .filter((k) => new RegExp(`^${prefix.replace(/\./g, "\\.")}\\.\\d+$`).test(k))
    .sort((a, b) => Number(a.split(".").pop()) - Number(b.split(".").pop()))
    .map((k) => String(params[k]));
}

interface RootVolumeTask {
  id: string;
  instanceId: string;
  snapshotId: string;
  at: string;
  tags: Array<[string, string]>;
}

/** The stand-ins for patching, over one moto; `managed()` names the SSM-managed instances. */
export function standIns(moto: () => Moto, managed: () => string[]): Record<string, StandIn> {
  const tasks: RootVolumeTask[] = [];
  const ec2 = () => new EC2Client({ region: "us-east-1", credentials, endpoint: moto().motoUrl });

  /** Instances an Install was sent to, through the stand-in (its request log). */
  const installedOn = (): Set<string> => {
    const out = new Set<string>();
    for (const c of moto().calls) {
      if (c.service !== "ssm" || c.operation !== "SendCommand") continue;
      const p = c.params as {
        DocumentName?: string;
        InstanceIds?: string[];
        Parameters?: Record<string, string[]>;
      };
      if (p.DocumentName === "AWS-RunPatchBaseline" && p.Parameters?.Operation?.[0] === "Install")
        for (const id of p.InstanceIds ?? []) out.add(id);
    }
    return out;
  };

  const describeInstanceInformation: StandIn = async (call) => {
    const p = call.params as {
      Filters?: Array<{ Key?: string; Values?: string[] }>;
      InstanceInformationFilterList?: Array<{ key?: string; valueSet?: string[] }>;
    };
    const wanted =
      p.Filters?.find((f) => f.Key === "InstanceIds")?.Values ??
      p.InstanceInformationFilterList?.find((f) => f.key === "InstanceIds")?.valueSet;
    const ids = managed().filter((id) => !wanted || wanted.includes(id));
    const client = ec2();
    const found = ids.length
      ? ((await client.send(new DescribeInstancesCommand({ InstanceIds: ids }))).Reservations ?? []).flatMap(
          (r) => r.Instances ?? [],
        )
      : [];
    client.destroy();
    const now = Date.now() / 1000;
    return json({
      InstanceInformationList: found.map((i) => ({
        InstanceId: i.InstanceId,
        PingStatus: i.State?.Name === "running" ? "Online" : "ConnectionLost",
        LastPingDateTime: now,
        AgentVersion: "3.3.0.0",
        IsLatestVersion: true,
        PlatformType: "Linux",
        PlatformName: "Amazon Linux",
        PlatformVersion: "2023",
        ResourceType: "EC2Instance",
      })),
    });
  };

  const describeInstancePatchStates: StandIn = async (call) => {
    const ids = ((call.params as { InstanceIds?: string[] }).InstanceIds ?? []).filter((id) =>
      installedOn().has(id),
    );
    const now = Date.now() / 1000;
    return json({
      InstancePatchStates: ids.map((id) => ({
        InstanceId: id,
        PatchGroup: "",
        BaselineId: "pb-0c10e65780EXAMPLE",
        Operation: "Install",
        OperationStartTime: now,
        OperationEndTime: now,
        InstalledCount: 3,
        InstalledPendingRebootCount: 0,
        FailedCount: 0,
        MissingCount: 0,
        NotApplicableCount: 0,
        RebootOption: "NoReboot",
      })),
    });
  };

  const taskXml = (t: RootVolumeTask) =>
    `<replaceRootVolumeTaskId>${t.id}</replaceRootVolumeTaskId><instanceId>${t.instanceId}</instanceId><taskState>succeeded</taskState><startTime>${t.at}</startTime><completeTime>${t.at}</completeTime><snapshotId>${t.snapshotId}</snapshotId><deleteReplacedRootVolume>false</deleteReplacedRootVolume><tagSet>${t.tags.map(([k, v]) => `<item><key>${xml(k)}</key><value>${xml(v)}</value></item>`).join("")}</tagSet>`;

  const createReplaceRootVolumeTask: StandIn = async (call: WireCall) => {
    const p = call.params as Record<string, unknown>;
    const keys = Object.keys(p).filter((k) => /^TagSpecification\.1\.Tag\.\d+\.Key$/.test(k));
    const task: RootVolumeTask = {
      id: `replacevol-${String(tasks.length + 1).padStart(17, "0")}`,
      instanceId: String(p.InstanceId),
      snapshotId: String(p.SnapshotId ?? ""),
      at: new Date().toISOString(),
      tags: keys.map((k) => [String(p[k]), String(p[k.replace(/Key$/, "Value")] ?? "")]),
    };
    tasks.push(task);
    return ec2Xml(
      "CreateReplaceRootVolumeTask",
      `<replaceRootVolumeTask>${taskXml(task)}</replaceRootVolumeTask>`,
    );
  };

  const describeReplaceRootVolumeTasks: StandIn = async (call: WireCall) => {
    const p = call.params as Record<string, unknown>;
    const ids = listParam(p, "ReplaceRootVolumeTaskId");
    const byInstance = p["Filter.1.Name"] === "instance-id" ? listParam(p, "Filter.1.Value") : undefined;
    const found = tasks.filter(
      (t) => (!ids.length || ids.includes(t.id)) && (!byInstance || byInstance.includes(t.instanceId)),
    );
    return ec2Xml(
      "DescribeReplaceRootVolumeTasks",
      `<replaceRootVolumeTaskSet>${found.map((t) => `<item>${taskXml(t)}</item>`).join("")}</replaceRootVolumeTaskSet>`,
    );
  };

  return {
    "ssm:DescribeInstanceInformation": describeInstanceInformation,
    "ssm:DescribeInstancePatchStates": describeInstancePatchStates,
    "ssm:CancelCommand": async () => json({}),
    "ec2:CreateReplaceRootVolumeTask": createReplaceRootVolumeTask,
    "ec2:DescribeReplaceRootVolumeTasks": describeReplaceRootVolumeTasks,
  };
}
