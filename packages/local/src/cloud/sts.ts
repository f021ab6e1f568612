/**
 * Simulated STS for a hub and its member accounts: `AssumeRole` as AWS answers it — a role that
 * does not exist, or whose trust policy does not name the caller, or whose `ExternalId` differs,
 * is `AccessDenied`; a session longer than an hour from a chained role is refused; a session
 * expires (`ExpiredToken` on the next call signed with it). Sessions are looked up by access
 * key, so the member cloud knows which account, role and session name signed each call.
 */
import { createHash } from "node:crypto";
import { CloudApiError } from "./api-error.ts";

export interface SimulatedRole {
  arn: string;
  /** Principals the trust policy names: account ids (`:root`) or role ARNs. */
  trust: string[];
  /** The `sts:ExternalId` the trust policy requires. */
  externalId?: string;
}

export interface Session {
  accessKeyId: string;
  account: string;
  roleArn: string;
  sessionName: string;
  expiresAt: number;
}

/** One AssumeRole call, answered or refused. */
export interface AssumeRoleRecord {
  at: number;
  roleArn: string;
  sessionName: string;
  externalId?: string;
  durationSeconds: number;
  error?: string;
}

const ROLE_ARN = /^arn:aws[a-z-]*:iam::(\d{12}):role\/(.+)$/;

export class SimulatedSts {
  readonly #roles = new Map<string, SimulatedRole>();
  readonly #sessions = new Map<string, Session>();
  readonly assumed: AssumeRoleRecord[] = [];
  #next = 0;

  constructor(
    /** The hub's principal: what the members' trust policies must name. */
    readonly hubPrincipal: string,
    readonly hubAccount: string,
    readonly clock: () => number = Date.now,
  ) {}

  /** Creates (or replaces) a role in a member account. */
  putRole(role: SimulatedRole): void {
    this.#roles.set(role.arn, role);
  }

  /** Deletes a role: the next AssumeRole of it is AccessDenied. */
  deleteRole(arn: string): boolean {
    return this.#roles.delete(arn);
  }

  roles(): SimulatedRole[] {
    return [...this.#roles.values()];
  }

  /** The live session an access key belongs to; `ExpiredToken` once it has expired; undefined for a key STS never issued. */
  session(accessKeyId: string | undefined): Session | undefined {
    const s = accessKeyId ? this.#sessions.get(accessKeyId) : undefined;
    if (s && s.expiresAt <= this.clock())
      throw new CloudApiError("ExpiredToken", "The security token included in the request is expired", 400);
    return s;
  }

  /** Answers an STS call as the hub's principal makes it. */
  invoke(operation: string, input: Record<string, unknown>): object {
    if (operation === "GetCallerIdentity")
      return { Account: this.hubAccount, Arn: this.hubPrincipal, UserId: "AROAHUBSIMULATED:reflex" };
    if (operation !== "AssumeRole")
      throw new CloudApiError("InvalidAction", `simulated STS does not answer ${operation}`, 400);
    const roleArn = String(input.RoleArn ?? "");
    const sessionName = String(input.RoleSessionName ?? "");
    const durationSeconds = Number(input.DurationSeconds ?? 3600);
    const externalId = input.ExternalId === undefined ? undefined : String(input.ExternalId);
    const record: AssumeRoleRecord = { at: this.clock(), roleArn, sessionName, durationSeconds };
    if (externalId) record.externalId = externalId;
    this.assumed.push(record);
    try {
      return this.#assume(roleArn, sessionName, durationSeconds, externalId);
    } catch (e) {
      record.error = (e as CloudApiError).code;
      throw e;
    }
  }

  #assume(roleArn: string, sessionName: string, seconds: number, externalId?: string): object {
    if (!/^[\w+=,.@-]{2,64}$/.test(sessionName))
      throw new CloudApiError("ValidationError", "RoleSessionName must be 2-64 of [\\w+=,.@-]", 400);
    // The hub's step worker is itself a role session: assuming another role is role chaining.
    if (seconds < 900 || seconds > 3600)
      throw new CloudApiError(
        "ValidationError",
        "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.",
        400,
      );
    const role = this.#roles.get(roleArn);
    const denied = () =>
      new CloudApiError(
        "AccessDenied",
        `User: ${this.hubPrincipal} is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`,
        403,
      );
    if (!role?.trust.some((p) => p === this.hubPrincipal || p === this.hubAccount)) throw denied();
    if (role.externalId !== undefined && role.externalId !== externalId) throw denied();
    const account = ROLE_ARN.exec(roleArn)?.[1] ?? "";
    const roleName = roleArn.split("/").pop() ?? "";
    this.#next += 1;
    const accessKeyId = `ASIA${createHash("sha256").update(`${this.#next}`).digest("hex").slice(0, 16).toUpperCase()}`;
    const expiresAt = this.clock() + seconds * 1000;
    this.#sessions.set(accessKeyId, { accessKeyId, account, roleArn, sessionName, expiresAt });
    return {
      Credentials: {
        AccessKeyId: accessKeyId,
        SecretAccessKey: `simulated-secret-${this.#next}`,
        SessionToken: `simulated-token-${this.#next}`,
        Expiration: new Date(expiresAt),
      },
      AssumedRoleUser: {
        AssumedRoleId: `AROA${account}:${sessionName}`,
        Arn: `arn:aws:sts::${account}:assumed-role/${roleName}/${sessionName}`,
      },
    };
  }
}
