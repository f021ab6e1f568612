/**
 * STS for the client factory's member-account sessions (aws.ts `assumeRoleProvider`): imported by
 * what reaches member accounts (the step runner, the accounts check), never by the Slack ack.
 * The client itself is loaded on first use.
 */
import { useSts } from "./aws.ts";

useSts(() => import("@aws-sdk/client-sts"));
