/**
 * AWS Organizations for local mode's simulated organization, answered on the wire: the SDK
 * serializes the request (awsJson1_1, `X-Amz-Target: AWSOrganizationsV20161128.<Operation>`),
 * this reads it as AWS would, and hands the client's own deserializer the JSON AWS sends back
 * (or its error body), so the parsing under test is the SDK's, as against AWS — and as against
 * moto (test/organization-moto.test.ts).
 *
 * The tree: the root `r-sim1` holds the OU `ou-sim1-workload` (the first half of the members and
 * one SUSPENDED account, `999999999999`, that no resolution may return), which holds the child OU
 * `ou-sim1-euregion` (the rest). Lists come in pages of 2 (AWS chooses its page size; small pages
 * make the caller follow `NextToken`).
 */
import { randomUUID } from "node:crypto";
import type { SdkClient } from "@reflex/core/aws";
import { HttpResponse } from "@smithy/core/protocols";
import { CloudApiError, protocolOf, wireErrorResponse } from "./api-error.ts";
import { DESERIALIZER_MIDDLEWARE } from "./middleware.ts";

export const ROOT_ID = "r-sim1";
export const WORKLOAD_OU = "ou-sim1-workload";
export const CHILD_OU = "ou-sim1-euregion";
/** In the workload OU, and SUSPENDED: a resolution must leave it out. */
export const SUSPENDED_ACCOUNT = "999999999999";
const PAGE = 2;
const ORG_ID = "o-sim1example";
const MANAGEMENT = "000000000000";

interface Node {
  id: string;
  name: string;
  parent?: string;
}

interface OrgMember {
  id: string;
  name: string;
  parent: string;
  state: "ACTIVE" | "SUSPENDED";
}

export class SimulatedOrganizations {
  readonly units: Node[] = [
    { id: ROOT_ID, name: "Root" },
    { id: WORKLOAD_OU, name: "workloads", parent: ROOT_ID },
    { id: CHILD_OU, name: "eu", parent: WORKLOAD_OU },
  ];
  readonly accounts: OrgMember[] = [];
  /** Every call, for tests: the operation and the parent asked about. */
  readonly calls: Array<{ operation: string; parentId?: string }> = [];

  /** Places the member accounts: the first half in the workload OU, the rest in its child. */
  constructor(members: Array<{ id: string; name: string }>) {
    const half = Math.ceil(members.length / 2);
    members.forEach((m, i) => {
      this.accounts.push({ ...m, parent: i < half ? WORKLOAD_OU : CHILD_OU, state: "ACTIVE" });
    });
    if (members.length)
      this.accounts.push({
        id: SUSPENDED_ACCOUNT,
        name: "closed-team",
        parent: WORKLOAD_OU,
        state: "SUSPENDED",
      });
  }

  /** Which OU an account is in (`reflex accounts list` shows it as where the account came from). */
  parentOf(id: string): string | undefined {
    return this.accounts.find((a) => a.id === id)?.parent;
  }

  invoke(operation: string, input: Record<string, unknown>): object {
    const parentId = typeof input.ParentId === "string" ? input.ParentId : undefined;
    this.calls.push({ operation, ...(parentId ? { parentId } : {}) });
    const page = <T>(items: T[]) => {
      const from = typeof input.NextToken === "string" ? Number(input.NextToken) : 0;
      if (!Number.isInteger(from) || from < 0 || from > items.length)
        throw new CloudApiError("InvalidInputException", "The NextToken is not valid.", 400);
      const size = typeof input.MaxResults === "number" ? Math.min(input.MaxResults, 20) : PAGE;
      const next = from + size < items.length ? String(from + size) : undefined;
      return { items: items.slice(from, from + size), ...(next ? { NextToken: next } : {}) };
    };
    const parent = () => {
      if (!parentId || !this.units.some((u) => u.id === parentId))
        throw new CloudApiError(
          "ParentNotFoundException",
          "We can't find a root or OU with the ParentId that you specified.",
          400,
        );
      return parentId;
    };
    switch (operation) {
      case "ListAccountsForParent": {
        const p = parent();
        const { items, NextToken } = page(this.accounts.filter((a) => a.parent === p));
        return {
          Accounts: items.map((a) => ({
            Id: a.id,
            Arn: `arn:aws:organizations::${MANAGEMENT}:account/${ORG_ID}/${a.id}`,
            Email: `${a.name}@example.com`,
            Name: a.name,
            State: a.state,
            JoinedMethod: "CREATED",
            JoinedTimestamp: 1_767_225_600,
          })),
          ...(NextToken ? { NextToken } : {}),
        };
      }
      case "ListOrganizationalUnitsForParent": {
        const p = parent();
        const { items, NextToken } = page(this.units.filter((u) => u.parent === p));
        return {
          OrganizationalUnits: items.map((u) => ({
            Id: u.id,
            Arn: `arn:aws:organizations::${MANAGEMENT}:ou/${ORG_ID}/${u.id}`,
            Name: u.name,
          })),
          ...(NextToken ? { NextToken } : {}),
        };
      }
      case "ListRoots":
        return {
          Roots: [
            {
              Id: ROOT_ID,
              Arn: `arn:aws:organizations::${MANAGEMENT}:root/${ORG_ID}/${ROOT_ID}`,
              Name: "Root",
              PolicyTypes: [],
            },
          ],
        };
      default:
        throw new CloudApiError(
          "UnsupportedAPIEndpointException",
          `the simulated organization does not answer ${operation}`,
          400,
        );
    }
  }

  /** Answers an Organizations client's requests on the wire, in place of the network. */
  attach(client: SdkClient): void {
    client.middlewareStack.addRelativeTo(
      () => async (args: { request: { headers: Record<string, string>; body?: unknown } }) => {
        const requestId = randomUUID();
        const target = args.request.headers["x-amz-target"] ?? "";
        const operation = target.slice(target.indexOf(".") + 1);
        try {
          // The SDK's JSON body: a string, or bytes (its JsonBytesStringAdapter is a Uint8Array).
          const raw = args.request.body;
          const body =
            raw instanceof Uint8Array ? new TextDecoder().decode(raw) : typeof raw === "string" ? raw : "";
          const output = this.invoke(operation, JSON.parse(body || "{}") as Record<string, unknown>);
          return {
            response: new HttpResponse({
              statusCode: 200,
              headers: { "content-type": "application/x-amz-json-1.1", "x-amzn-requestid": requestId },
              body: Buffer.from(JSON.stringify(output)),
            }),
          };
        } catch (e) {
          const error =
            e instanceof CloudApiError ? e : new CloudApiError("ServiceException", String(e), 500);
          return { response: wireErrorResponse(protocolOf(client), error, requestId) };
        }
      },
      {
        relation: "after",
        toMiddleware: DESERIALIZER_MIDDLEWARE,
        name: "reflexOrganizationsWire",
        override: true,
      },
    );
  }
}
