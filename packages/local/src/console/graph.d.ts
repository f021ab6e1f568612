/** Types of graph.js (browser JavaScript, served as is), for its unit tests. */

export type NodeStatus =
  | "SUCCEEDED"
  | "PASSED"
  | "FAILED"
  | "RUNNING"
  | "WAITING_FOR_APPROVAL"
  | "NOT_RUN"
  | "ABORTED"
  | "TIMED_OUT";

export interface GraphNode {
  name: string;
  type: string;
  steps: string[];
  iterates: boolean;
  approval: boolean;
  end: boolean;
  state: Record<string, unknown>;
}

export interface GraphEdge {
  from: string;
  to: string;
  kind: "next" | "choice" | "default" | "catch";
  label?: string;
}

export interface Graph {
  start: string;
  nodes: GraphNode[];
  edges: GraphEdge[];
}

export interface RunForGraph {
  id?: string;
  runbook?: string;
  status: string;
  dryRun?: boolean;
  params?: Record<string, unknown>;
  steps?: Array<{
    state?: string;
    step: string;
    status: string;
    target?: string | null;
    startedAt: string;
    endedAt?: string;
    durationMs?: number;
  }>;
}

export const STATUS_TEXT: Record<string, [string, string]>;
export function aslGraph(asl: unknown): Graph;
export function evaluateChoice(rule: unknown, known: unknown): boolean | undefined;
export function statusOf(
  graph: Graph,
  run: RunForGraph,
  now?: number,
): Map<string, { status: NodeStatus | string; records: unknown[]; inferred: boolean; timing: string }>;
export function duration(ms: number): string;
export function iterations<R extends { target?: string | null; status: string; startedAt: string }>(
  records: R[],
): { items: Array<{ target: string; records: R[]; status: string }>; untargeted: R[] };
export function renderGraph(
  graph: Graph,
  statuses: ReturnType<typeof statusOf>,
  onSelect?: (name: string) => void,
): Element;
export function livenGraph(root: Element, onSelect?: (name: string) => void): Element;
