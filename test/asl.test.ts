import { createRequire } from "node:module";
import { Locations, Runbooks, substitute } from "@reflex/core";
import { describe, expect, it } from "vitest";
import { restartService } from "../examples/runbooks/restart-service/index.ts";

const require = createRequire(import.meta.url);
const validate = require("asl-validator") as (def: unknown) => { isValid: boolean; errors: unknown[] };

const ARN = "arn:aws:lambda:us-east-1:123456789012:function:reflex-test-step";

describe("every runbook's state machine", () => {
  it.each(Runbooks.list().map((r) => [r.name, r] as const))(
    "%s is valid Amazon States Language",
    (_name, runbook) => {
      // The validator annotates what it is given; hand it a copy.
      const definition = structuredClone(substitute(runbook.stateMachine, { StepHandlerArn: ARN }));
      const result = validate(definition);
      expect(result.errors).toEqual([]);
      expect(result.isValid).toBe(true);
    },
  );

  it("is rejected by the validator when a transition points nowhere (the check can fail)", () => {
    const [runbook] = Runbooks.list();
    const broken = structuredClone(substitute(runbook.stateMachine, { StepHandlerArn: ARN }));
    broken.StartAt = "NoSuchState";
    expect(validate(broken).isValid).toBe(false);
  });

  it.each(Runbooks.list().map((r) => [r.name, r] as const))(
    "%s leaves no placeholder but the step handler",
    (_name, runbook) => {
      const placeholders = JSON.stringify(runbook.stateMachine).match(/\$\{[A-Za-z0-9_]+\}/g) ?? [];
      expect(new Set(placeholders)).toEqual(new Set(["${StepHandlerArn}"]));
    },
  );
});

describe("the fan-out over locations", () => {
  it("is valid Amazon States Language, with no placeholder but its function", () => {
    const fanOut = Locations.fanOutStateMachine();
    const placeholders = JSON.stringify(fanOut).match(/\$\{[A-Za-z0-9_]+\}/g) ?? [];
    expect(new Set(placeholders)).toEqual(new Set(["${FanOutHandlerArn}"]));
    const result = validate(structuredClone(substitute(fanOut, { FanOutHandlerArn: ARN })));
    expect(result.errors).toEqual([]);
    expect(result.isValid).toBe(true);
  });
});

describe("the SDK's ASL builders", () => {
  it("build valid Amazon States Language: aws() and waitFor() Tasks, the example built on them", () => {
    const result = validate(structuredClone(restartService.stateMachine));
    expect(result.errors).toEqual([]);
    expect(result.isValid).toBe(true);
    const restart = restartService.stateMachine.States.RestartEach.ItemProcessor?.States.Restart;
    expect(restart?.Resource).toBe("arn:aws:states:::aws-sdk:ssm:sendCommand");
  });
});
