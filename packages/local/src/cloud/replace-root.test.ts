/**
 * The simulated root-volume replacement (CreateReplaceRootVolumeTask, DescribeReplaceRootVolumeTasks):
 * the root swapped for a volume holding the snapshot's data, the original kept detached, the
 * snapshot's lineage checked, the ClientToken idempotent, `failed` and `failed-detached` from an
 * outcome fault — and its answers in the shape the real `@aws-sdk/client-ec2` parses.
 */
import {
  CreateReplaceRootVolumeTaskCommand,
  DescribeReplaceRootVolumeTasksCommand,
  EC2Client,
} from "@aws-sdk/client-ec2";
import { HttpResponse } from "@smithy/core/protocols";
import { describe, expect, it } from "vitest";
import { cloudOnAClock, code } from "../../../../test/support/cloud.ts";
import { faultFromRequest } from "./http.ts";
import { setPatchingSettings } from "./patching-helpers.ts";

function setup() {
  const clocked = cloudOnAClock({ snapshotDurationMs: 100 });
  const { cloud } = clocked;
  setPatchingSettings(cloud, { replaceRootVolumeMs: 900 });
  const app = cloud.addInstance({ name: "app", volumeSizes: [8, 20] });
  const other = cloud.addInstance({ name: "other" });
  const rootOf = (id: string) =>
    cloud.instance(id)?.BlockDeviceMappings?.find((m) => m.DeviceName === "/dev/xvda")?.Ebs?.VolumeId;
  return {
    ...clocked,
    rootOf,
    app: app.InstanceId as string,
    other: other.InstanceId as string,
  };
}

async function rootSnapshot(s: ReturnType<typeof setup>, instanceId: string, marker: string) {
  const root = s.rootOf(instanceId) as string;
  s.cloud.writeVolume(root, marker);
  const snap = await s.ec2("CreateSnapshot", { VolumeId: root });
  s.cloud.writeVolume(root, "f".repeat(64)); // written after the backup
  s.advance(100);
  return { root, snapshotId: snap.SnapshotId as string };
}

describe("simulated root-volume replacement", () => {
  it("swaps the root for a volume holding the snapshot's data, pending → in-progress → succeeded, the original kept detached", async () => {
    const s = setup();
    const { root, snapshotId } = await rootSnapshot(s, s.app, "a".repeat(64));
    const made = await s.ec2("CreateReplaceRootVolumeTask", {
      InstanceId: s.app,
      SnapshotId: snapshotId,
      DeleteReplacedRootVolume: false,
      ClientToken: "run-1",
    });
    const id = made.ReplaceRootVolumeTask.ReplaceRootVolumeTaskId;
    const state = async () =>
      (await s.ec2("DescribeReplaceRootVolumeTasks", { ReplaceRootVolumeTaskIds: [id] }))
        .ReplaceRootVolumeTasks[0].TaskState;
    expect(await state()).toBe("pending");
    s.advance(300);
    expect(await state()).toBe("in-progress");
    s.advance(600);
    expect(await state()).toBe("succeeded");
    const now = s.rootOf(s.app) as string;
    expect(now).not.toBe(root);
    expect(s.cloud.volumeMarker(now)).toBe("a".repeat(64));
    expect(s.cloud.volumes().find((v) => v.VolumeId === root)).toMatchObject({ State: "available" });
  });

  it("answers the first task for a repeated ClientToken, and refuses the token with other params", async () => {
    const s = setup();
    const { snapshotId } = await rootSnapshot(s, s.app, "a".repeat(64));
    const input = { InstanceId: s.app, SnapshotId: snapshotId, ClientToken: "run-1" };
    const first = await s.ec2("CreateReplaceRootVolumeTask", input);
    const again = await s.ec2("CreateReplaceRootVolumeTask", input);
    expect(again.ReplaceRootVolumeTask.ReplaceRootVolumeTaskId).toBe(
      first.ReplaceRootVolumeTask.ReplaceRootVolumeTaskId,
    );
    const tasks = await s.ec2("DescribeReplaceRootVolumeTasks", {
      Filters: [{ Name: "instance-id", Values: [s.app] }],
    });
    expect(tasks.ReplaceRootVolumeTasks).toHaveLength(1);
    expect(await code(s.ec2("CreateReplaceRootVolumeTask", { ...input, SnapshotId: undefined }))).toBe(
      "IdempotentParameterMismatch",
    );
  });

  it("refuses a snapshot of another volume lineage: another instance's root, or this instance's data volume", async () => {
    const s = setup();
    const { snapshotId: foreign } = await rootSnapshot(s, s.other, "b".repeat(64));
    const data = s.cloud.instance(s.app)?.BlockDeviceMappings?.[1]?.Ebs?.VolumeId as string;
    const dataSnap = (await s.ec2("CreateSnapshot", { VolumeId: data })).SnapshotId;
    s.advance(100);
    const root = s.rootOf(s.app);
    for (const snap of [foreign, dataSnap])
      expect(await code(s.ec2("CreateReplaceRootVolumeTask", { InstanceId: s.app, SnapshotId: snap }))).toBe(
        "InvalidParameterValue",
      );
    expect(s.rootOf(s.app)).toBe(root);
  });

  it("ends failed-detached when an outcome fault says so: the original root detached, none attached", async () => {
    const s = setup();
    const { root, snapshotId } = await rootSnapshot(s, s.app, "a".repeat(64));
    s.cloud.injectFault(
      faultFromRequest({
        operation: "ec2:CreateReplaceRootVolumeTask",
        outcome: "failed-detached",
        count: 1,
      }),
    );
    const made = await s.ec2("CreateReplaceRootVolumeTask", { InstanceId: s.app, SnapshotId: snapshotId });
    const id = made.ReplaceRootVolumeTask.ReplaceRootVolumeTaskId;
    const state = async () =>
      (await s.ec2("DescribeReplaceRootVolumeTasks", { ReplaceRootVolumeTaskIds: [id] }))
        .ReplaceRootVolumeTasks[0].TaskState;
    s.advance(700);
    expect(await state()).toBe("failing");
    s.advance(200);
    expect(await state()).toBe("failed-detached");
    expect(s.rootOf(s.app)).toBeUndefined();
    expect(s.cloud.volumes().find((v) => v.VolumeId === root)).toMatchObject({ State: "available" });
    expect(s.cloud.faults()).toEqual([]); // used up
  });

  it("refuses an outcome the operation cannot end in, or on an operation that takes none", () => {
    expect(() =>
      faultFromRequest({ operation: "ec2:CreateReplaceRootVolumeTask", outcome: "exploded" }),
    ).toThrow(/outcome: must be one of failed, failed-detached/);
    expect(() => faultFromRequest({ operation: "ec2:CreateVolume", outcome: "failed" })).toThrow(
      /an outcome applies to CreateReplaceRootVolumeTask/,
    );
  });

  it("answers in the shape the real EC2 client parses: the same task back through its XML deserializer", async () => {
    const s = setup();
    const { snapshotId } = await rootSnapshot(s, s.app, "a".repeat(64));
    const made = await s.ec2("CreateReplaceRootVolumeTask", {
      InstanceId: s.app,
      SnapshotId: snapshotId,
      TagSpecifications: [{ ResourceType: "replace-root-volume-task", Tags: [{ Key: "k", Value: "v" }] }],
    });
    s.advance(900);
    const described = await s.ec2("DescribeReplaceRootVolumeTasks", {});
    // EC2's query protocol as AWS answers it: the model's fields as lower-camel elements, lists as items.
    const el = (name: string, value: unknown): string => {
      const tag = `${name[0].toLowerCase()}${name.slice(1)}`;
      if (Array.isArray(value))
        return `<${tag === "tags" ? "tagSet" : `${tag.replace(/s$/, "")}Set`}>${value
          .map(
            (v) =>
              `<item>${Object.entries(v)
                .map(([k, x]) => el(k, x))
                .join("")}</item>`,
          )
          .join("")}</${tag === "tags" ? "tagSet" : `${tag.replace(/s$/, "")}Set`}>`;
      if (value && typeof value === "object")
        return `<${tag}>${Object.entries(value)
          .map(([k, x]) => el(k, x))
          .join("")}</${tag}>`;
      return `<${tag}>${String(value)}</${tag}>`;
    };
    const answering = (op: string, body: object) =>
      new EC2Client({
        region: "us-east-1",
        credentials: { accessKeyId: "x", secretAccessKey: "x" },
        requestHandler: {
          handle: async () => ({
            response: new HttpResponse({
              statusCode: 200,
              headers: { "content-type": "text/xml" },
              body: Buffer.from(
                `<?xml version="1.0" encoding="UTF-8"?><${op}Response xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId>${Object.entries(
                  body,
                )
                  .map(([k, v]) => el(k, v))
                  .join("")}</${op}Response>`,
              ),
            }),
          }),
        },
      });
    const parsedMade = await answering("CreateReplaceRootVolumeTask", made).send(
      new CreateReplaceRootVolumeTaskCommand({ InstanceId: s.app }),
    );
    const parsedDescribed = await answering("DescribeReplaceRootVolumeTasks", described).send(
      new DescribeReplaceRootVolumeTasksCommand({}),
    );
    const { $metadata: _m, ...madeOut } = parsedMade;
    const { $metadata: _d, ...describedOut } = parsedDescribed;
    expect(madeOut).toEqual(made);
    expect(describedOut).toEqual(described);
    expect(describedOut.ReplaceRootVolumeTasks?.[0]).toMatchObject({
      TaskState: "succeeded",
      SnapshotId: snapshotId,
    });
  });

  it("pages DescribeReplaceRootVolumeTasks as EC2 does: MaxResults 1–50 and NextToken, the cloud's page size without it; task ids answer them all", async () => {
    const s = setup();
    for (let n = 0; n < 7; n++) {
      await s.ec2("CreateReplaceRootVolumeTask", { InstanceId: s.app });
      s.advance(1000);
    }
    const byInstance = { Filters: [{ Name: "instance-id", Values: [s.app] }] };
    const pages = async (input: object) => {
      const sizes: number[] = [];
      const ids: string[] = [];
      let NextToken: string | undefined;
      do {
        const r = await s.ec2("DescribeReplaceRootVolumeTasks", { ...input, NextToken });
        sizes.push(r.ReplaceRootVolumeTasks.length);
        ids.push(
          ...r.ReplaceRootVolumeTasks.map(
            (t: { ReplaceRootVolumeTaskId: string }) => t.ReplaceRootVolumeTaskId,
          ),
        );
        NextToken = r.NextToken;
      } while (NextToken);
      return { sizes, ids };
    };

    expect((await pages(byInstance)).sizes).toEqual([5, 2]);
    const { sizes, ids } = await pages({ ...byInstance, MaxResults: 3 });
    expect(sizes).toEqual([3, 3, 1]);
    expect(new Set(ids).size).toBe(7);
    expect((await pages({ ReplaceRootVolumeTaskIds: ids })).sizes).toEqual([7]);
    for (const MaxResults of [0, 51])
      expect(await code(s.ec2("DescribeReplaceRootVolumeTasks", { MaxResults }))).toBe(
        "InvalidParameterValue",
      );
    expect(await code(s.ec2("DescribeReplaceRootVolumeTasks", { NextToken: "forged" }))).toBe(
      "InvalidParameterValue",
    );
  });
});
