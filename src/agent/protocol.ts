/**
 * The agent's side of its channel to the control plane (`BerthAgentV1`, served by
 * src/services/berthagent/): `Poll`, a long poll that is also the agent's heartbeat and answers
 * with the tasks placed on its container instance, and `ReportTaskState`, what the agent saw
 * happen to a task. Everything else the agent does goes through the public AWS APIs, like any
 * client: RegisterContainerInstance (ECS), PutLogEvents (CloudWatch Logs) and GetParameters
 * (SSM, for secrets).
 *
 * Both messages are described by the channel's model, src/models/berthagent.json, and their
 * types are generated from it (src/generated/berthagent.ts): the control plane's gateway checks
 * every report against it, and this module checks every polled task against it before the agent
 * acts on it, so neither side trusts the other's JSON. Reports are encoded by the model
 * (timestamps as epoch seconds, as awsJson has them).
 */
import type * as Wire from '../generated/berthagent.js';
import { callJson, type ClientConfig } from '../client/awsClient.js';
import { ServiceModel, type Parsed } from '../protocol/model.js';

/** Target prefix of the agent channel's JSON operations. */
export const AGENT_TARGET_PREFIX = 'BerthAgentV1';

/** Everything an agent needs to run one task: its ECS task definition with the task's overrides applied. */
export type AgentTaskSpec = Wire.AgentTaskSpec;

/** One container of a task as the agent runs it: the ECS container definition's fields the agent uses, overrides applied. */
export type AgentContainerDefinition = Wire.AgentContainerDefinition;

/** A polled task: its spec plus what the control plane wants of it. */
export type PolledTask = Wire.AgentTask;

/**
 * What the agent reports about a task: a snapshot of what changed (absent fields are unchanged).
 * The agent merges queued reports of a task, so it can send the newest state in one message.
 */
export type TaskReport = Wire.TaskStateChange;

/** A polled task the agent cannot use: what the model found wrong, and the task's ARN when that much was readable. */
export interface UnusableTask {
  taskArn?: string;
  problem: string;
}

/** A Poll answer, each task checked on its own against the model. */
export interface PollAnswer {
  fingerprint?: string;
  tasks: PolledTask[];
  unusable: UnusableTask[];
}

let model: ServiceModel | undefined;

/** The channel's model, loaded on first use. */
function channelModel(): ServiceModel {
  return (model ??= ServiceModel.load('berthagent'));
}

/**
 * Long-polls for the tasks placed on `input.containerInstanceArn`. Resolves with the tasks that
 * fit the model, and the ones that do not, so that one unusable task costs only itself;
 * rejects like `callJson` (AwsApiError, or a network error) and on an answer that is not a
 * Poll answer at all.
 */
export async function pollTasks(client: ClientConfig, input: Wire.PollRequest, opts: { timeoutMs: number; signal: AbortSignal }): Promise<PollAnswer> {
  const raw = await callJson<unknown>(client, 'ecs', `${AGENT_TARGET_PREFIX}.Poll`, channelModel().encodeJson('PollRequest', input), opts);
  const misfit = (problem: string) =>
    new Error(`the control plane's Poll answer does not fit the agent channel's model (${problem}): are the agent and the control plane the same version?`);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw misfit('not a JSON object');
  // The envelope as a whole, the tasks one by one.
  const { tasks: rawTasks, ...rest } = raw as { tasks?: unknown };
  const envelope = channelModel().parseJson<Wire.PollResponse>('PollResponse', rest);
  if (!envelope.ok) throw misfit(envelope.problem);
  if (rawTasks !== undefined && rawTasks !== null && !Array.isArray(rawTasks)) throw misfit("'tasks' is not a list");
  const answer: PollAnswer = { fingerprint: envelope.value.fingerprint, tasks: [], unusable: [] };
  for (const t of (rawTasks as unknown[] | null | undefined) ?? []) {
    const parsed = channelModel().parseJson<PolledTask>('AgentTask', t);
    if (parsed.ok) answer.tasks.push(parsed.value);
    else {
      const arn = (t as { taskArn?: unknown } | null)?.taskArn;
      answer.unusable.push({ taskArn: typeof arn === 'string' && channelModel().parseJson('Arn', arn).ok ? arn : undefined, problem: parsed.problem });
    }
  }
  return answer;
}

/**
 * Sends one report about a task; rejects like `callJson`. Reasons longer than the model admits
 * are cut to fit: they are free text, often an error's message, and a refused report would
 * leave the task's state unreported (the control plane keeps no more than that either).
 * Everything else the agent reports fits by construction.
 */
export async function reportTaskState(client: ClientConfig, cluster: string, taskArn: string, change: TaskReport): Promise<void> {
  const input: Wire.ReportTaskStateRequest = {
    cluster,
    taskArn,
    change: {
      ...change,
      reason: fitReason(change.reason),
      containers: change.containers?.map((c) => ({ ...c, reason: fitReason(c.reason) })),
    },
  };
  // The answer (the task's statuses after the report) is not used: the next poll says what matters.
  await callJson(client, 'ecs', `${AGENT_TARGET_PREFIX}.ReportTaskState`, channelModel().encodeJson('ReportTaskStateRequest', input));
}

/**
 * Checks a task spec read from elsewhere than a Poll answer (the agent's own task state files)
 * against the model, as a polled one is.
 */
export function parseTaskSpec(v: unknown): Parsed<AgentTaskSpec> {
  return channelModel().parseJson<AgentTaskSpec>('AgentTaskSpec', v);
}

/** A report as it goes on the wire (JSON-serialisable: times as epoch seconds), for keeping it in a state file. */
export function encodeReport(r: TaskReport): unknown {
  return channelModel().encodeJson('TaskStateChange', { ...r, reason: fitReason(r.reason), containers: r.containers?.map((c) => ({ ...c, reason: fitReason(c.reason) })) });
}

/** A report read back from a state file, checked against the model. */
export function decodeReport(v: unknown): Parsed<TaskReport> {
  return channelModel().parseJson<TaskReport>('TaskStateChange', v);
}

/** `b` over `a`: b's fields win, containers are merged by name (reports are snapshots of what changed). */
export function mergeReports(a: TaskReport | undefined, b: TaskReport | undefined): TaskReport | undefined {
  if (!a) return b;
  if (!b) return a;
  return { ...a, ...b, containers: mergeContainers(a.containers, b.containers) };
}

function mergeContainers(a: TaskReport['containers'], b: TaskReport['containers']): TaskReport['containers'] {
  if (!a) return b;
  if (!b) return a;
  const m = new Map(a.map((c) => [c.containerName, c]));
  for (const c of b) m.set(c.containerName, { ...m.get(c.containerName), ...c });
  return [...m.values()];
}

function fitReason(reason: string | undefined): string | undefined {
  const max = channelModel().shape('Reason').max ?? Infinity;
  return reason !== undefined && [...reason].length > max ? [...reason].slice(0, max).join('') : reason;
}
