/**
 * What each console page shows, composed from Berth's public API operations called as the
 * signed-in principal (`ApiCall`): never the store. Each view is plain JSON (the API's wire
 * shapes, timestamps in epoch seconds, trimmed to what a page shows); the same function answers
 * a one-off GET and each refresh of a live page. Lists are bounded (`MAX_LIST`).
 */
import { ServiceError } from '../errors.js';
import { logDestinationFor } from '../agent/logNaming.js';

/** Calls one API operation as the session's principal (the gateway's `callAs`). */
export type ApiCall = (service: string, operation: string, input: Record<string, unknown>) => Promise<any>;

/** Most items of any list a view reads (services of a cluster, tasks of a service...). */
export const MAX_LIST = 100;

/** A view's parameters (the page URL's). */
export type ViewParams = Record<string, string>;

/** A view's required parameter (at most `max` characters), or an InvalidParameterException. */
export function need(p: ViewParams, name: string, max = 1600): string {
  const v = p[name];
  if (!v || v.length > max) throw new ServiceError('InvalidParameterException', `The view needs the parameter '${name}' (at most ${max.toLocaleString('en')} characters).`);
  return v;
}

/** The last segment of an ARN (a task id, a service name). */
export function lastSegment(arn: string): string {
  return arn.slice(arn.lastIndexOf('/') + 1);
}

async function chunked<T>(items: string[], size: number, f: (chunk: string[]) => Promise<T[]>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < items.length; i += size) out.push(...(await f(items.slice(i, i + size))));
  return out;
}

async function listAll(call: ApiCall, service: string, op: string, input: Record<string, unknown>, key: string, max = MAX_LIST): Promise<string[]> {
  const out: string[] = [];
  let nextToken: string | undefined;
  do {
    const page = await call(service, op, { ...input, ...(nextToken ? { nextToken } : {}) });
    out.push(...(page[key] ?? []));
    nextToken = page.nextToken;
  } while (nextToken && out.length < max);
  return out.slice(0, max);
}

function resource(r: any[] | undefined, name: string): number | undefined {
  return r?.find((x) => x.name === name)?.integerValue;
}

/** Every cluster with its counts. */
async function clusters(call: ApiCall): Promise<unknown> {
  const arns = await listAll(call, 'ecs', 'ListClusters', {}, 'clusterArns');
  const described = await chunked(arns, 100, async (c) => (await call('ecs', 'DescribeClusters', { clusters: c })).clusters ?? []);
  return {
    clusters: described.map((c: any) => ({
      name: c.clusterName,
      status: c.status,
      instances: c.registeredContainerInstancesCount,
      services: c.activeServicesCount,
      running: c.runningTasksCount,
      pending: c.pendingTasksCount,
    })),
  };
}

/** A cluster: its container instances (resources, agent, attributes, draining) and its services. */
async function cluster(call: ApiCall, p: ViewParams): Promise<unknown> {
  const name = need(p, 'cluster');
  const c = (await call('ecs', 'DescribeClusters', { clusters: [name] })).clusters?.[0];
  if (!c) throw new ServiceError('ClusterNotFoundException', `Cluster '${name}' not found.`, 400);
  const instanceArns = await listAll(call, 'ecs', 'ListContainerInstances', { cluster: name }, 'containerInstanceArns');
  const instances = await chunked(instanceArns, 100, async (ids) => (await call('ecs', 'DescribeContainerInstances', { cluster: name, containerInstances: ids })).containerInstances ?? []);
  const serviceArns = await listAll(call, 'ecs', 'ListServices', { cluster: name }, 'serviceArns');
  const services = await chunked(serviceArns, 10, async (s) => (await call('ecs', 'DescribeServices', { cluster: name, services: s })).services ?? []);
  return {
    cluster: { name: c.clusterName, status: c.status, running: c.runningTasksCount, pending: c.pendingTasksCount },
    instances: instances.map((i: any) => ({
      id: lastSegment(i.containerInstanceArn),
      ec2InstanceId: i.ec2InstanceId,
      status: i.status,
      agentConnected: i.agentConnected,
      running: i.runningTasksCount,
      pending: i.pendingTasksCount,
      cpu: { registered: resource(i.registeredResources, 'CPU'), free: resource(i.remainingResources, 'CPU') },
      memory: { registered: resource(i.registeredResources, 'MEMORY'), free: resource(i.remainingResources, 'MEMORY') },
      attributes: (i.attributes ?? []).filter((a: any) => !a.name.startsWith('ecs.capability.') && !a.name.startsWith('com.amazonaws.')).map((a: any) => ({ name: a.name, value: a.value })),
    })),
    services: services
      .map((s: any) => ({
        name: s.serviceName,
        status: s.status,
        desired: s.desiredCount,
        running: s.runningCount,
        pending: s.pendingCount,
        taskDefinition: lastSegment(s.taskDefinition ?? ''),
        rollout: s.deployments?.find((d: any) => d.status === 'PRIMARY')?.rolloutState,
        deployments: s.deployments?.length ?? 0,
      }))
      .sort((a: any, b: any) => a.name.localeCompare(b.name)),
  };
}

/** The host ports of a task's containers, as `containerPort->hostPort`. */
function bindings(t: any): Array<{ container: string; containerPort: number; hostPort: number; protocol: string }> {
  return (t.containers ?? []).flatMap((c: any) => (c.networkBindings ?? []).map((b: any) => ({ container: c.name, containerPort: b.containerPort, hostPort: b.hostPort, protocol: b.protocol ?? 'tcp' })));
}

function taskSummary(t: any): unknown {
  return {
    id: lastSegment(t.taskArn),
    lastStatus: t.lastStatus,
    desiredStatus: t.desiredStatus,
    health: t.healthStatus,
    revision: lastSegment(t.taskDefinitionArn ?? ''),
    startedBy: t.startedBy,
    startedAt: t.startedAt,
    stoppedAt: t.stoppedAt,
    stoppedReason: t.stoppedReason,
    instance: t.containerInstanceArn ? lastSegment(t.containerInstanceArn) : undefined,
    ports: bindings(t),
  };
}

async function serviceTasks(call: ApiCall, clusterName: string, serviceName: string): Promise<any[]> {
  const running = await listAll(call, 'ecs', 'ListTasks', { cluster: clusterName, serviceName }, 'taskArns');
  const stopped = await listAll(call, 'ecs', 'ListTasks', { cluster: clusterName, serviceName, desiredStatus: 'STOPPED' }, 'taskArns', 20);
  const arns = [...running, ...stopped.slice(0, Math.max(0, MAX_LIST - running.length))];
  return chunked(arns, 100, async (ids) => (await call('ecs', 'DescribeTasks', { cluster: clusterName, tasks: ids })).tasks ?? []);
}

/** A service: counts, deployments (newest first), events (newest first), tasks, and the revisions it may move to. */
async function service(call: ApiCall, p: ViewParams): Promise<unknown> {
  const clusterName = need(p, 'cluster');
  const name = need(p, 'service');
  const s = (await call('ecs', 'DescribeServices', { cluster: clusterName, services: [name] })).services?.[0];
  if (!s) throw new ServiceError('ServiceNotFoundException', `Service '${name}' not found in cluster '${clusterName}'.`, 400);
  const tasks = await serviceTasks(call, clusterName, name);
  const family = lastSegment(s.taskDefinition ?? '').split(':')[0] ?? '';
  const revisions = family ? ((await call('ecs', 'ListTaskDefinitions', { familyPrefix: family, sort: 'DESC', maxResults: 20 })).taskDefinitionArns ?? []).map(lastSegment) : [];
  const cb = s.deploymentConfiguration?.deploymentCircuitBreaker;
  return {
    service: {
      name: s.serviceName,
      cluster: clusterName,
      status: s.status,
      desired: s.desiredCount,
      running: s.runningCount,
      pending: s.pendingCount,
      taskDefinition: lastSegment(s.taskDefinition ?? ''),
      circuitBreaker: cb ? { enable: cb.enable, rollback: cb.rollback } : undefined,
      loadBalancers: (s.loadBalancers ?? []).map((l: any) => ({ targetGroupArn: l.targetGroupArn, container: l.containerName, port: l.containerPort })),
    },
    deployments: (s.deployments ?? [])
      .map((d: any) => ({
        id: d.id,
        status: d.status,
        taskDefinition: lastSegment(d.taskDefinition ?? ''),
        desired: d.desiredCount,
        running: d.runningCount,
        pending: d.pendingCount,
        failed: d.failedTasks,
        rolloutState: d.rolloutState,
        rolloutStateReason: d.rolloutStateReason,
        createdAt: d.createdAt,
        updatedAt: d.updatedAt,
      }))
      .sort((a: any, b: any) => (b.createdAt ?? 0) - (a.createdAt ?? 0)),
    events: (s.events ?? [])
      .slice(0, 50)
      .map((e: any) => ({ id: e.id, createdAt: e.createdAt, message: e.message }))
      .sort((a: any, b: any) => (b.createdAt ?? 0) - (a.createdAt ?? 0)),
    tasks: tasks.map(taskSummary).sort((a: any, b: any) => Number(a.lastStatus === 'STOPPED') - Number(b.lastStatus === 'STOPPED') || (b.startedAt ?? 0) - (a.startedAt ?? 0)),
    revisions,
  };
}

/** Where a task's containers' output goes (log group and stream per container). */
export async function taskLogStreams(call: ApiCall, clusterName: string, t: any, cache = new Map<string, any>()): Promise<Array<{ container: string; task: string; group: string; stream: string }>> {
  let td = cache.get(t.taskDefinitionArn);
  if (!td) {
    td = (await call('ecs', 'DescribeTaskDefinition', { taskDefinition: t.taskDefinitionArn })).taskDefinition;
    cache.set(t.taskDefinitionArn, td);
  }
  const taskId = lastSegment(t.taskArn);
  return (td?.containerDefinitions ?? []).map((c: any) => {
    const d = logDestinationFor(c, { taskId, cluster: clusterName, family: td.family });
    return { container: c.name, task: taskId, group: d.group, stream: d.stream };
  });
}

/** A task: its containers (status, exit codes, reasons, bindings), environment (secrets by name only) and log streams. */
async function task(call: ApiCall, p: ViewParams): Promise<unknown> {
  const clusterName = need(p, 'cluster');
  const id = need(p, 'task');
  const t = (await call('ecs', 'DescribeTasks', { cluster: clusterName, tasks: [id] })).tasks?.[0];
  if (!t) throw new ServiceError('InvalidParameterException', `No task '${id}' in cluster '${clusterName}'.`, 400);
  const td = (await call('ecs', 'DescribeTaskDefinition', { taskDefinition: t.taskDefinitionArn })).taskDefinition;
  const defs = new Map<string, any>((td?.containerDefinitions ?? []).map((c: any) => [c.name, c]));
  const streams = await taskLogStreams(call, clusterName, t, new Map([[t.taskDefinitionArn, td]]));
  return {
    task: { ...(taskSummary(t) as object), cluster: clusterName, group: t.group, cpu: t.cpu, memory: t.memory, stopCode: t.stopCode, createdAt: t.createdAt, taskDefinition: lastSegment(t.taskDefinitionArn ?? '') },
    containers: (t.containers ?? []).map((c: any) => {
      const def = defs.get(c.name) ?? {};
      return {
        name: c.name,
        image: c.image ?? def.image,
        lastStatus: c.lastStatus,
        health: c.healthStatus,
        exitCode: c.exitCode,
        reason: c.reason,
        essential: def.essential !== false,
        ports: (c.networkBindings ?? []).map((b: any) => ({ containerPort: b.containerPort, hostPort: b.hostPort, protocol: b.protocol ?? 'tcp' })),
        environment: (def.environment ?? []).map((e: any) => ({ name: e.name, value: e.value })),
        // A secret is shown by its name and where it comes from, never its value.
        secrets: (def.secrets ?? []).map((s: any) => ({ name: s.name, from: s.valueFrom })),
        log: streams.find((s) => s.container === c.name),
      };
    }),
  };
}

/** Load balancers with listeners and rules (priority order), and target groups with target health. */
async function loadBalancers(call: ApiCall): Promise<unknown> {
  const lbs = (await call('elbv2', 'DescribeLoadBalancers', {})).LoadBalancers ?? [];
  const outLbs = [];
  for (const lb of lbs.slice(0, MAX_LIST)) {
    const listeners = (await call('elbv2', 'DescribeListeners', { LoadBalancerArn: lb.LoadBalancerArn })).Listeners ?? [];
    const ls = [];
    for (const l of listeners) {
      const rules = (await call('elbv2', 'DescribeRules', { ListenerArn: l.ListenerArn })).Rules ?? [];
      rules.sort((a: any, b: any) => (a.IsDefault ? 1 : 0) - (b.IsDefault ? 1 : 0) || Number(a.Priority) - Number(b.Priority));
      ls.push({
        arn: l.ListenerArn,
        protocol: l.Protocol,
        port: l.Port,
        rules: rules.map((r: any) => ({
          priority: r.Priority,
          conditions: (r.Conditions ?? []).map((c: any) => `${c.Field} ${(c.Values ?? c.PathPatternConfig?.Values ?? c.HostHeaderConfig?.Values ?? []).join(', ')}`),
          actions: (r.Actions ?? []).map((a: any) => (a.Type === 'forward' ? `forward to ${lastTg(a.TargetGroupArn ?? a.ForwardConfig?.TargetGroups?.[0]?.TargetGroupArn)}` : a.Type)),
        })),
      });
    }
    outLbs.push({ name: lb.LoadBalancerName, arn: lb.LoadBalancerArn, dns: lb.DNSName, state: lb.State?.Code, listeners: ls });
  }
  const tgs = (await call('elbv2', 'DescribeTargetGroups', {})).TargetGroups ?? [];
  const outTgs = [];
  for (const tg of tgs.slice(0, MAX_LIST)) {
    const health = (await call('elbv2', 'DescribeTargetHealth', { TargetGroupArn: tg.TargetGroupArn })).TargetHealthDescriptions ?? [];
    outTgs.push({
      name: tg.TargetGroupName,
      arn: tg.TargetGroupArn,
      protocol: tg.Protocol,
      port: tg.Port,
      healthCheckPath: tg.HealthCheckPath,
      targets: health.map((h: any) => ({ id: h.Target?.Id, port: h.Target?.Port, state: h.TargetHealth?.State, reason: h.TargetHealth?.Reason, description: h.TargetHealth?.Description })),
    });
  }
  return { loadBalancers: outLbs, targetGroups: outTgs };
}

function lastTg(arn: string | undefined): string {
  return arn ? (arn.split(':').pop() ?? arn).split('/')[1] ?? arn : '?';
}

/** Parameters by name, type and version; never a value (revealing is an action). */
async function parameters(call: ApiCall): Promise<unknown> {
  const out: any[] = [];
  let NextToken: string | undefined;
  do {
    const page = await call('ssm', 'DescribeParameters', { MaxResults: 50, ...(NextToken ? { NextToken } : {}) });
    out.push(...(page.Parameters ?? []));
    NextToken = page.NextToken;
  } while (NextToken && out.length < MAX_LIST);
  return { parameters: out.slice(0, MAX_LIST).map((p) => ({ name: p.Name, type: p.Type, version: p.Version, lastModified: p.LastModifiedDate, description: p.Description })) };
}

/** The views by name, as the URL `/console/api/view/<name>` says. */
export const VIEWS: Record<string, (call: ApiCall, p: ViewParams) => Promise<unknown>> = {
  clusters: (call) => clusters(call),
  cluster,
  service,
  task,
  loadbalancers: (call) => loadBalancers(call),
  parameters: (call) => parameters(call),
};
