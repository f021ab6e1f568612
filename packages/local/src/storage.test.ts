/**
 * Local mode's S3 (s3rver, storage.ts): an object it has answered a PUT for is whole on disk.
 * s3rver's own putObject answered once the bytes were handed to a write stream, not written:
 * a GET in between read the file's size so far, 0, and answered an empty object (a drill's
 * report read back empty, once, under load). The disk is made slow here, for the object's file.
 */
import fs from "node:fs";
import { GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { ensureBucket, S3RVER_CREDENTIALS, startStorage } from "./storage.ts";

const REGION = "us-east-1";
const BUCKET = "reflex-storage-test";

/**
 * Holds every write of `marker`'s bytes through `fs`'s callback API (as a write stream writes a
 * file) until `release()` lets those held so far go on: a disk slow to take an object's bytes.
 */
function slowWritesOf(marker: string) {
  const { write, writev } = fs;
  const held: Array<() => void> = [];
  let released = false;
  const has = (data: unknown): boolean =>
    Array.isArray(data)
      ? data.some(has)
      : (ArrayBuffer.isView(data) || typeof data === "string") &&
        Buffer.from(data as string).includes(marker);
  const hold =
    (real: (...a: any[]) => unknown) =>
    (fd: number, data: unknown, ...rest: any[]) => {
      const go = () => real(fd, data, ...rest);
      if (released || !has(data)) return go();
      held.push(go);
    };
  Object.assign(fs, { write: hold(write), writev: hold(writev) });
  return {
    release() {
      for (const go of held.splice(0)) go();
    },
    restore() {
      released = true;
      this.release();
      Object.assign(fs, { write, writev });
    },
  };
}

describe("local mode's S3", () => {
  it("answers a PUT once the object is on disk: a GET right after it reads it whole, however slow the disk", async () => {
    const storage = await startStorage({ region: REGION });
    const s3 = new S3Client({
      endpoint: storage.s3Endpoint,
      region: REGION,
      credentials: S3RVER_CREDENTIALS,
      forcePathStyle: true,
    });
    const marker = "the bytes of a drill report, marked";
    const disk = slowWritesOf(marker);
    try {
      await ensureBucket(storage.s3Endpoint, REGION, BUCKET);
      const report = JSON.stringify({ drill: "app-1", verdict: "met", pad: marker });
      await s3.send(
        new PutObjectCommand({ Bucket: BUCKET, Key: "reports/drills/app-1/r.json", Body: report }),
      );
      const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: "reports/drills/app-1/r.json" }));
      disk.release();
      expect(await got.Body?.transformToString()).toBe(report);
      // Put again (as the month's summary is): read whole, the new one.
      const again = report.replace("met", "missed");
      await s3.send(
        new PutObjectCommand({ Bucket: BUCKET, Key: "reports/drills/app-1/r.json", Body: again }),
      );
      const read = await s3.send(
        new GetObjectCommand({ Bucket: BUCKET, Key: "reports/drills/app-1/r.json" }),
      );
      disk.release();
      expect(await read.Body?.transformToString()).toBe(again);
    } finally {
      disk.restore();
      s3.destroy();
      await storage.close();
    }
  });
});
