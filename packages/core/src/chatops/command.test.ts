/**
 * The `/reflex` parser on text as Slack sends it: over the length limit, JSON params, quotes
 * (straight and typographic), and every `/reflex` example docs/chatops.md documents.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseParamPairs } from "../param-pairs.ts";
import * as Runbooks from "../runbooks/index.ts";
import { MAX_TEXT, parse } from "./command.ts";

describe("command text over the limit", () => {
  it("refuses text over the limit naming it, instead of cutting off a trailing --dry-run", () => {
    const text = `run backup-snapshot note=${"x".repeat(MAX_TEXT)} --dry-run`;
    const c = parse(text);
    expect(c.kind).toBe("invalid");
    expect((c as { message: string }).message).toMatch(/over 4,000 characters/);
    expect((c as { message: string }).message).toMatch(/nothing was run/);
  });

  it("counts characters as typed, not as Slack escapes them", () => {
    const text = `pause ${"&lt;".repeat(MAX_TEXT - 10)}`;
    expect(parse(text)).toMatchObject({ kind: "pause" });
    expect(parse(`${text}${"&lt;".repeat(20)}`)).toMatchObject({ kind: "invalid" });
  });

  it("reads text of exactly the limit whole", () => {
    const head = "run backup-snapshot note=";
    const tail = " --dry-run";
    const text = `${head}${"x".repeat(MAX_TEXT - head.length - tail.length)}${tail}`;
    expect(text).toHaveLength(MAX_TEXT);
    expect(parse(text)).toMatchObject({ kind: "run", dryRun: true });
  });
});

describe("JSON params and quotes through Slack", () => {
  it("keeps the quotes of k:=<json> written bare", () => {
    expect(parse('run backup-snapshot selector:={"tag":{"Backup":"daily"}} --dry-run')).toEqual({
      kind: "run",
      runbook: "backup-snapshot",
      pairs: ['selector:={"tag":{"Backup":"daily"}}'],
      dryRun: true,
    });
  });

  it("keeps a JSON value with spaces in it whole", () => {
    expect(parse('run backup-snapshot selector:={"tag": {"Backup": "daily"}} retainDays=3')).toMatchObject({
      pairs: ['selector:={"tag": {"Backup": "daily"}}', "retainDays=3"],
    });
  });

  it("takes a single-quoted JSON value as the shell does", () => {
    expect(parse(`run backup-snapshot selector:='{"tag":{"Backup":"daily"}}'`)).toMatchObject({
      pairs: ['selector:={"tag":{"Backup":"daily"}}'],
    });
    expect(parse(`run backup-snapshot 'selector:={"tag":{"Backup":"daily"}}'`)).toMatchObject({
      pairs: ['selector:={"tag":{"Backup":"daily"}}'],
    });
  });

  it("reads typographic quotes (Slack's smart quotes) as straight ones, in JSON too", () => {
    expect(
      parse("run backup-snapshot selector:={\u201ctag\u201d:{\u201cBackup\u201d:\u201cdaily\u201d}}"),
    ).toMatchObject({ pairs: ['selector:={"tag":{"Backup":"daily"}}'] });
    expect(parse('run backup-snapshot selector:=\u2018{"tag":{"Backup":"daily"}}\u2019')).toMatchObject({
      pairs: ['selector:={"tag":{"Backup":"daily"}}'],
    });
    expect(parse("run x note=\u201cnot now\u201d")).toMatchObject({ pairs: ["note=not now"] });
  });

  it('keeps an object written whole after k= as JSON, and still unquotes k="a b"', () => {
    expect(parse('run backup-snapshot selector={"tag": {"Backup": "daily"}} note="a b"')).toMatchObject({
      pairs: ['selector={"tag": {"Backup": "daily"}}', "note=a b"],
    });
  });

  it("reads --dry-run typed as \u2014dry-run (smart dashes) as the flag, never as a real run", () => {
    expect(parse("run scale autoScalingGroup=web change=+1 \u2014dry-run")).toMatchObject({
      dryRun: true,
      pairs: ["autoScalingGroup=web", "change=+1"],
    });
    expect(parse("run scale autoScalingGroup=web \u2013dry-run")).toMatchObject({ dryRun: true });
    expect(parse("reject scale-1 a \u2014 b")).toMatchObject({ reason: "a \u2014 b" });
    expect(parse('run x note="a \u2014b"')).toMatchObject({ pairs: ["note=a \u2014b"], dryRun: false });
  });

  it("reads JSON Slack escaped (&amp; &lt; &gt;) as typed", () => {
    expect(parse('run x a:={"q":"a &amp; b &lt;c&gt;"}')).toMatchObject({ pairs: ['a:={"q":"a & b <c>"}'] });
  });

  it("keeps apostrophes in reasons and comments as typed", () => {
    expect(parse("reject scale-1 it's Bob's call")).toEqual({
      kind: "reject",
      executionId: "scale-1",
      reason: "it's Bob's call",
    });
    expect(parse("approve scale-1 don\u2019t  wait")).toEqual({
      kind: "approve",
      executionId: "scale-1",
      comment: "don\u2019t  wait",
    });
    expect(parse("run x note=don't")).toMatchObject({ pairs: ["note=don't"] });
  });
});

/** Every `/reflex …` in a code span of docs/chatops.md that is an example (no `<…>` placeholders). */
function documentedExamples(): string[] {
  const doc = readFileSync(new URL("../../../../docs/chatops.md", import.meta.url), "utf8");
  const spans = [...doc.matchAll(/`(\/reflex [^`]+)`/g)].map((m) => m[1]);
  return [...new Set(spans.filter((s) => !/[<[…]/.test(s)))];
}

describe("the examples in docs/chatops.md", () => {
  const examples = documentedExamples();

  it("has examples of each documented param form", () => {
    const all = examples.join("\n");
    expect(all).toMatch(/:=/);
    expect(all).toMatch(/\w\.\w+=/);
    expect(all).toMatch(/=\S+,\S+/);
    expect(all).toMatch(/[\u201c"]/);
  });

  it.each(examples)("`%s` parses, and its params fit the runbook", (example) => {
    const c = parse(example.replace(/^\/reflex /, ""));
    expect(c.kind).not.toBe("invalid");
    expect(c).not.toMatchObject({ kind: "help", unknown: expect.anything() });
    if (c.kind === "run") {
      const runbook = Runbooks.get(c.runbook);
      const params = parseParamPairs(c.pairs, runbook.jsonSchema as never);
      const checked = runbook.params.safeParse(params);
      expect(checked.error?.issues ?? []).toEqual([]);
    }
  });
});

describe("/reflex offhours keep and release", () => {
  it("reads keep with targets, for or until, --start and the reason after because, as typed", () => {
    expect(parse("offhours keep i-0abc12345678 asg:web for 4h because release “night” & co")).toEqual({
      kind: "offhours",
      action: "keep",
      targets: ["i-0abc12345678", "asg:web"],
      for: "4h",
      reason: "release “night” & co",
      start: false,
    });
    expect(parse("keep i-0abc12345678 until 22:00 --start because patching")).toEqual({
      kind: "offhours",
      action: "keep",
      targets: ["i-0abc12345678"],
      until: "22:00",
      reason: "patching",
      start: true,
    });
  });

  it("reads release with an optional reason", () => {
    expect(parse("offhours release i-0abc12345678")).toEqual({
      kind: "offhours",
      action: "release",
      targets: ["i-0abc12345678"],
      start: false,
    });
    expect(parse("offhours release i-0abc12345678 because done")).toMatchObject({ reason: "done" });
  });

  it.each([
    ["offhours", /keep or release/],
    ["offhours keep", /which targets/],
    ["offhours keep i-0abc12345678 because x", /until when/],
    ["offhours keep i-0abc12345678 for 4h", /a reason is required/],
    ["offhours keep i-0abc12345678 for because x", /for what/],
    ["offhours keep i-0abc12345678 for 4h until 22:00 because x", /not both/],
    ["offhours keep i-0abc12345678 for 4h because", /because what/],
    ["offhours keep i-0abc12345678 tonight because x", /until when/],
    ["offhours release i-0abc12345678 for 4h", /not understood/],
    [`offhours keep ${"i-0abc12345678 ".repeat(51)}for 1h because x`, /at most 50/],
  ])("refuses `%s` with its usage", (text, why) => {
    const c = parse(text);
    expect(c.kind).toBe("invalid");
    expect((c as { message: string }).message).toMatch(why);
    expect((c as { message: string }).message).toMatch(/Usage: `\/reflex offhours (keep|release)/);
  });
});
