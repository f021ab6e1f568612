/**
 * `people:` links exact identities: a person's `iam` entry is compared whole, never as a
 * pattern. An entry with `*` (written as in `access.roles`, where patterns do work) would link
 * nobody, so the same person answering through Slack and through that role would count as two
 * people: self-approval and `minApprovers` undone by a config that looks right. It is refused.
 */
import { Admission, validateConfig } from "@reflex/core";
import { describe, expect, it } from "vitest";

describe("people: iam entries", () => {
  it("refuses a pattern, naming the entry, instead of linking nobody", () => {
    let issues: Array<{ path: string; message: string }> = [];
    try {
      validateConfig({
        people: [{ name: "alice", slack: "U0ALICE", iam: ["arn:aws:iam::111122223333:role/AliceAdmin*"] }],
      });
    } catch (err) {
      issues = (err as { issues: typeof issues }).issues;
    }
    expect(issues).toContainEqual({ path: "people[0].iam[0]", message: expect.stringMatching(/pattern/) });
  });

  it("links exact identities as before: the role's sessions are alice", () => {
    const config = validateConfig({
      people: [{ name: "alice", slack: "U0ALICE", iam: ["arn:aws:iam::111122223333:role/AliceAdmin"] }],
    });
    const session = Admission.People.identityOf(
      "arn:aws:sts::111122223333:assumed-role/AliceAdmin/any-name",
      config,
    );
    expect(Admission.People.samePerson(config, "slack:U0ALICE", session)).toBe(true);
  });
});
