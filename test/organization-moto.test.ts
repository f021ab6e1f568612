/**
 * Config `organization` resolved against moto's Organizations (the second cloud, docs/testing.md):
 * the real SDK parses moto's answers to ListAccountsForParent and ListOrganizationalUnitsForParent,
 * paged, with a child OU and a closed account, as it does the simulated organization's.
 */
import {
  CloseAccountCommand,
  CreateAccountCommand,
  CreateOrganizationalUnitCommand,
  CreateOrganizationCommand,
  DescribeCreateAccountStatusCommand,
  ListRootsCommand,
  MoveAccountCommand,
  OrganizationsClient,
} from "@aws-sdk/client-organizations";
import { Organization } from "@reflex/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Moto, startMoto } from "./support/moto.ts";

let moto: Moto;
let client: OrganizationsClient;
beforeAll(async () => {
  moto = await startMoto();
  client = new OrganizationsClient({
    region: "us-east-1",
    endpoint: moto.motoUrl,
    credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
  });
}, 60_000);
afterAll(async () => {
  client?.destroy();
  await moto?.stop();
});

/** Creates an account and moves it under `parent`; its id. */
async function account(name: string, root: string, parent: string): Promise<string> {
  const created = await client.send(
    new CreateAccountCommand({ AccountName: name, Email: `${name}@example.com` }),
  );
  const status = await client.send(
    new DescribeCreateAccountStatusCommand({ CreateAccountRequestId: created.CreateAccountStatus?.Id }),
  );
  const id = status.CreateAccountStatus?.AccountId ?? "";
  await client.send(
    new MoveAccountCommand({ AccountId: id, SourceParentId: root, DestinationParentId: parent }),
  );
  return id;
}

describe("organization against moto", () => {
  it("resolves an OU's ACTIVE accounts, its child OU's with includeChildren, a closed one never", async () => {
    await client.send(new CreateOrganizationCommand({ FeatureSet: "ALL" }));
    const root = (await client.send(new ListRootsCommand({}))).Roots?.[0]?.Id ?? "";
    const ou = await client.send(new CreateOrganizationalUnitCommand({ ParentId: root, Name: "workloads" }));
    const ouId = ou.OrganizationalUnit?.Id ?? "";
    const child = await client.send(new CreateOrganizationalUnitCommand({ ParentId: ouId, Name: "eu" }));
    const childId = child.OrganizationalUnit?.Id ?? "";
    const a = await account("team-a", root, ouId);
    const b = await account("team-b", root, ouId);
    const closed = await account("team-gone", root, ouId);
    const c = await account("team-c", root, childId);
    await client.send(new CloseAccountCommand({ AccountId: closed }));

    const flat = await Organization.listAccounts({ ous: [ouId], includeChildren: false }, client);
    expect(flat.map((x) => x.id).sort()).toEqual([a, b].sort());
    const deep = await Organization.listAccounts({ ous: [ouId], includeChildren: true }, client);
    expect(deep.map((x) => [x.id, x.ou]).sort()).toEqual(
      [
        [a, ouId],
        [b, ouId],
        [c, childId],
      ].sort(),
    );
    await expect(
      Organization.listAccounts({ ous: [`${ouId.slice(0, -4)}zzzz`], includeChildren: false }, client),
    ).rejects.toMatchObject({ name: "ParentNotFoundException" });
  });
});
