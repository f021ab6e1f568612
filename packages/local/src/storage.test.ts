/**
 * Local mode's S3 (s3rver, storage.ts): an object it has answered a PUT for is whole on disk.
 * s3rver's own putObject answered once the bytes were handed to a write stream, not written:
 * a GET in between read the file's size so far, 0, and answered an empty object (a drill's
 * report read back empty, once, under load). The disk is made slow here, for the object's file.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import fs, { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buffer } from "node:stream/consumers";
import { GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { describe, expect, it, vi } from "vitest";
import { ensureBucket, S3RVER_CREDENTIALS, type S3rverStore, startStorage, wholeObjects } from "./storage.ts";

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

describe("local mode's S3 on a data dir, killed in the middle of a PUT", () => {
  it("keeps the object as it was before the PUT the kill cut short, and the next start removes the bytes that PUT left beside it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "reflex-s3-killed-"));
    const client = (endpoint: string) =>
      new S3Client({
        endpoint,
        region: REGION,
        credentials: S3RVER_CREDENTIALS,
        forcePathStyle: true,
        maxAttempts: 1,
      });
    const key = "reports/drills/app-1/summary.json";
    const read = async (endpoint: string) => {
      const s3 = client(endpoint);
      try {
        const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
        return await got.Body?.transformToString();
      } finally {
        s3.destroy();
      }
    };
    const parts = () =>
      (fs.readdirSync(join(dir, "s3"), { recursive: true }) as string[]).filter((n) => n.endsWith(".part"));
    try {
      // The object as a first start wrote it.
      const first = await startStorage({ dataDir: dir, region: REGION });
      try {
        await ensureBucket(first.s3Endpoint, REGION, BUCKET);
        const s3 = client(first.s3Endpoint);
        await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: "before" }));
        s3.destroy();
      } finally {
        await first.close();
      }

      // A second, in a process of its own, armed to die (SIGKILL) between a PUT's bytes and its rename.
      const child = spawn(
        process.execPath,
        ["--import", "tsx", join(import.meta.dirname, "../../../test/support/storage-child.ts"), dir],
        { env: { ...process.env, REFLEX_CRASH_AT: "s3:after-part" }, stdio: ["ignore", "pipe", "inherit"] },
      );
      const exited = new Promise<NodeJS.Signals | null>((done) =>
        child.once("exit", (_, signal) => done(signal)),
      );
      const endpoint = await new Promise<string>((ready, failed) => {
        let out = "";
        child.stdout?.on("data", (b) => {
          out += b;
          const m = /ready (\S+)/.exec(out);
          if (m) ready(m[1]);
        });
        void exited.then(() => failed(new Error(`the storage child exited before it was ready: ${out}`)));
      });
      const cut = client(endpoint);
      await expect(
        cut.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: "after, never answered" })),
      ).rejects.toThrow();
      cut.destroy();
      expect(await exited).toBe("SIGKILL");
      expect(parts()).toHaveLength(1);

      // Started again on the dir: the object before the cut PUT, whole; the bytes it left, gone.
      const again = await startStorage({ dataDir: dir, region: REGION });
      try {
        expect(parts()).toEqual([]);
        expect(await read(again.s3Endpoint)).toBe("before");
      } finally {
        await again.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** s3rver's own file store, on a dir of its own, made to write objects whole as local mode's is. */
async function fileStore() {
  const FilesystemStore = createRequire(import.meta.url)("s3rver/lib/stores/filesystem.js") as new (
    dir: string,
  ) => Omit<S3rverStore, "getObject"> & {
    putBucket(bucket: string): Promise<unknown>;
    getObject(
      bucket: string,
      key: string,
    ): Promise<{ content: NodeJS.ReadableStream; metadata: Record<string, string> } | null>;
  };
  const dir = mkdtempSync(join(tmpdir(), "reflex-s3-store-"));
  const store = new FilesystemStore(dir);
  await store.putBucket(BUCKET);
  wholeObjects(store);
  return { store, dir };
}

describe("local mode's S3 store, one key asked at once", () => {
  it("a GET while a PUT of the same key is between its object and its metadata reads one PUT whole: its bytes, their ETag, its metadata", async () => {
    const { store, dir } = await fileStore();
    const key = "reports/drills/app-1/r.json";
    const put = (body: string, version: string) =>
      store.putObject({
        bucket: BUCKET,
        key,
        content: Buffer.from(body),
        metadata: { "content-type": "application/json", "x-amz-meta-version": version },
      });
    try {
      await put("one", "1");
      // The next PUT's metadata held: its object is renamed into place, its md5 and metadata not yet written.
      const realMetadata = store.putMetadata.bind(store);
      let release = () => {};
      const gate = new Promise<void>((done) => (release = done));
      let held = false;
      store.putMetadata = async (...args) => {
        held = true;
        await gate;
        return realMetadata(...args);
      };
      const second = put("two, and longer", "2");
      await vi.waitFor(() => expect(held).toBe(true), { timeout: 20_000 });
      // The GET: answered at once while the PUT is held (its file store reached at once), or held
      // back until the PUT is whole; the PUT goes on once the GET is one or the other.
      const read = vi.spyOn(Object.getPrototypeOf(store), "getObject");
      const got = store.getObject(BUCKET, key);
      if (read.mock.calls.length > 0) await got.catch(() => {});
      read.mockRestore();
      release();
      await second;
      const object = await got;
      const body = object ? (await buffer(object.content)).toString() : "";
      const md5 = createHash("md5").update(body).digest("hex");
      expect({ etag: object?.metadata.etag, version: object?.metadata["x-amz-meta-version"] }).toEqual({
        etag: JSON.stringify(md5),
        version: body === "one" ? "1" : "2",
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("local mode's S3, keys", () => {
  it("refuses a key whose `..` would reach outside its bucket (400, nothing written there); other odd keys are kept as they are", async () => {
    const storage = await startStorage({ region: REGION });
    const name = `reflex-s3-escape-${process.pid}-${Date.now()}`;
    const outside = join(tmpdir(), `${name}._S3rver_object`);
    const s3 = new S3Client({
      endpoint: storage.s3Endpoint,
      region: REGION,
      credentials: S3RVER_CREDENTIALS,
      forcePathStyle: true,
    });
    /** A PUT as a client that does not resolve `..` sends it (the key's slashes escaped). */
    const rawPut = (key: string) =>
      new Promise<number>((done, fail) => {
        const url = new URL(storage.s3Endpoint);
        const req = http.request(
          {
            host: url.hostname,
            port: url.port,
            method: "PUT",
            path: `/${BUCKET}/${encodeURIComponent(key)}`,
            headers: { "content-length": 2 },
          },
          (res) => {
            res.resume();
            res.on("end", () => done(res.statusCode ?? 0));
          },
        );
        req.on("error", fail);
        req.end("hi");
      });
    try {
      await ensureBucket(storage.s3Endpoint, REGION, BUCKET);
      // The bucket's dir is <tmp>/reflex-s3-…/s3/<bucket>: three levels up is the system's tmp dir.
      expect(await rawPut(`../../../${name}`)).toBe(400);
      expect(await rawPut(`a/../../../../${name}`)).toBe(400);
      expect(fs.existsSync(outside)).toBe(false);
      // Keys with dots, spaces and unicode that stay inside: written and read back as they are.
      for (const key of ["a..b/c.json", "..hidden", "reports/ü n i/…/r.json"]) {
        await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: key }));
        const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
        expect(await got.Body?.transformToString()).toBe(key);
      }
    } finally {
      fs.rmSync(outside, { force: true });
      for (const suffix of ["._S3rver_object.md5", "._S3rver_metadata.json"])
        fs.rmSync(join(tmpdir(), `${name}${suffix}`), { force: true });
      s3.destroy();
      await storage.close();
    }
  });
});
