/**
 * What an agent's credentials may do (the gateway asks this instead of IAM policies for callers
 * of kind `agent`, see src/domain/iam/agents.ts). An agent key acts only as its own container
 * instance: register it (again), poll its tasks, report their state, get their secrets and role
 * credentials, write their logs, get a registry token, ask who it is. A join token may only
 * `Join` its cluster. Everything else, and any of those for another instance or cluster or
 * another instance's task, is AWS's access-denied error, before the handler runs.
 */
import { ServiceError } from '../errors.js';
import { clusterNameOf, containerInstanceArn, resourceRefOf } from '../domain/ecs/keys.js';
import { findTask } from '../domain/ecs/tasks.js';
import { tasksForInstance } from '../domain/ecs/liveIndex.js';
import { applyOverrides, findTaskDefinition } from '../domain/ecs/taskDefinitions.js';
import type { TaskRecord } from '../domain/ecs/records.js';
import type { RequestContext } from './types.js';

type Input = Record<string, unknown>;
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/** Operations of the agent channel that name one task of the caller's instance. */
const TASK_OPS = new Set(['ReportTaskState', 'GetTaskCredentials', 'GetTaskSecrets']);

/** Throws the protocol's access-denied error unless the agent (or join token) `ctx.principal` may call `action`. */
export async function authorizeAgent(service: string, protocol: string, action: string, input: unknown, ctx: RequestContext): Promise<void> {
  const p = ctx.principal;
  const i = (typeof input === 'object' && input !== null ? input : {}) as Input;
  const code = protocol === 'query' || protocol === 'ec2' ? 'AccessDenied' : 'AccessDeniedException';
  const deny = (resource: string, why = `no identity-based policy allows the ${action} action`): never => {
    throw new ServiceError(code, `User: ${p.arn} is not authorized to perform: ${action} on resource: ${resource.slice(0, 512)} because ${why}`, code === 'AccessDenied' ? 403 : 400);
  };
  const a = p.agent;
  if (!a) return deny('*');
  const op = action.slice(action.indexOf(':') + 1);
  const clusterArn = `arn:aws:ecs:${ctx.region}:${ctx.platform.accountId}:cluster/${clusterNameOf(ctx, str(i.cluster) || undefined).slice(0, 256)}`;
  const inCluster = ctx.region === a.region && clusterNameOf(ctx, str(i.cluster) || undefined) === a.cluster;
  if (service === 'sts' && op === 'GetCallerIdentity') return;
  if (!a.containerInstanceId) {
    // A join token: Join its own cluster, nothing else.
    if (service === 'berthagent' && op === 'Join' && inCluster) return;
    return deny(service === 'berthagent' && op === 'Join' ? clusterArn : '*', 'a join token may only join its own cluster');
  }
  const own = containerInstanceArn(ctx, a.cluster, a.containerInstanceId);
  const isOwn = (ref: string) => {
    const r = resourceRefOf(ctx, 'container-instance', ref);
    return ctx.region === a.region && r !== undefined && r.id === a.containerInstanceId && (r.cluster === undefined || r.cluster === a.cluster);
  };
  const notOwn = `it acts only as container instance ${own}`;
  if (service === 'berthagent') {
    if (op === 'Poll') {
      if (inCluster && isOwn(str(i.containerInstanceArn))) return;
      return deny(str(i.containerInstanceArn) || clusterArn, notOwn);
    }
    if (TASK_OPS.has(op)) {
      const task = inCluster ? await findTask(ctx, a.cluster, str(i.taskArn)) : undefined;
      if (task && task.value.containerInstanceArn === own) return;
      return deny(str(i.taskArn) || clusterArn, `the task does not run on ${own}`);
    }
    return deny(clusterArn);
  }
  if (service === 'ecs' && op === 'RegisterContainerInstance') {
    if (inCluster && isOwn(str(i.containerInstanceArn))) return;
    return deny(clusterArn, `${notOwn}: it registers that instance only (containerInstanceArn)`);
  }
  if (service === 'ecr' && op === 'GetAuthorizationToken') return;
  if (service === 'logs') {
    const group = str(i.logGroupName);
    const resource = `arn:aws:logs:${ctx.region}:${ctx.platform.accountId}:log-group:${group}${i.logStreamName ? `:log-stream:${str(i.logStreamName)}` : ''}`;
    if (ctx.region === a.region && (await logsAllowed(ctx, op, group, str(i.logStreamName), a.cluster, own))) return;
    return deny(resource, `the log ${i.logStreamName ? 'stream' : 'group'} belongs to no task of ${own}`);
  }
  return deny('*');
}

/** The log destinations of a task's containers, as the agent names them (src/agent/logNaming.ts). */
async function destinationsOf(ctx: RequestContext, t: TaskRecord): Promise<Array<{ group: string; stream: string }>> {
  const td = await findTaskDefinition(ctx, t.taskDefinitionArn);
  if (!td) return [];
  const def = applyOverrides(td.value.taskDefinition, t.overrides);
  return (def.containerDefinitions ?? []).map((c) => {
    const lc = c.logConfiguration;
    if (lc?.logDriver === 'awslogs' && lc.options?.['awslogs-group']) {
      const prefix = lc.options['awslogs-stream-prefix'];
      return { group: lc.options['awslogs-group'], stream: prefix ? `${prefix}/${c.name}/${t.taskId}` : t.taskId };
    }
    return { group: `/berth/${t.clusterName}`, stream: `${td.value.taskDefinition.family}/${c.name}/${t.taskId}` };
  });
}

/**
 * Log calls an agent makes for its tasks: CreateLogGroup of a live task's group, and
 * CreateLogStream / PutLogEvents / GetLogEvents of a task's own stream (the stream names its task
 * id last, so a stopped task's last lines still go out).
 */
async function logsAllowed(ctx: RequestContext, op: string, group: string, stream: string, cluster: string, own: string): Promise<boolean> {
  if (op === 'CreateLogGroup') {
    for (const t of await tasksForInstance(ctx, cluster, own)) if ((await destinationsOf(ctx, t)).some((d) => d.group === group)) return true;
    return false;
  }
  if (op !== 'CreateLogStream' && op !== 'PutLogEvents' && op !== 'GetLogEvents') return false;
  const taskId = stream.slice(stream.lastIndexOf('/') + 1);
  if (!/^[a-f0-9]{32}$/.test(taskId)) return false;
  const t = await findTask(ctx, cluster, taskId);
  if (!t || t.value.containerInstanceArn !== own) return false;
  return (await destinationsOf(ctx, t.value)).some((d) => d.group === group && d.stream === stream);
}
