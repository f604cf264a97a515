/**
 * The `berth` client commands' view of the AWS APIs: the ECS, CloudWatch Logs and ELBv2 calls
 * they make, over the network through src/client (SigV4, like any client), with the wire shapes
 * they read (timestamps are epoch seconds, as awsJson sends them) and the paging and batching
 * every command needs (ListTasks pages, DescribeTasks by 100, DescribeServices by 10).
 */
import { AwsApiError, jsonService, type ClientConfig } from '../client/awsClient.js';
import { callQuery } from '../client/awsQuery.js';

/** A container of a task, as DescribeTasks answers. */
export interface WireContainer {
  name: string;
  lastStatus?: string;
  exitCode?: number;
  reason?: string;
  healthStatus?: string;
  networkBindings?: Array<{ bindingIP?: string; containerPort?: number; hostPort?: number; protocol?: string }>;
}

/** A task, as DescribeTasks answers. */
export interface WireTask {
  taskArn: string;
  taskDefinitionArn: string;
  clusterArn?: string;
  containerInstanceArn?: string;
  lastStatus?: string;
  desiredStatus?: string;
  group?: string;
  startedBy?: string;
  healthStatus?: string;
  stopCode?: string;
  stoppedReason?: string;
  createdAt?: number;
  startedAt?: number;
  stoppingAt?: number;
  stoppedAt?: number;
  containers?: WireContainer[];
}

/** A deployment of a service. */
export interface WireDeployment {
  id: string;
  status: string;
  taskDefinition: string;
  desiredCount?: number;
  pendingCount?: number;
  runningCount?: number;
  failedTasks?: number;
  createdAt?: number;
  updatedAt?: number;
  rolloutState?: string;
  rolloutStateReason?: string;
}

/** A service event. */
export interface WireServiceEvent {
  id: string;
  createdAt?: number;
  message: string;
}

/** A service, as DescribeServices answers. */
export interface WireService {
  serviceArn: string;
  serviceName: string;
  status: string;
  desiredCount?: number;
  runningCount?: number;
  pendingCount?: number;
  taskDefinition?: string;
  schedulingStrategy?: string;
  loadBalancers?: Array<{ targetGroupArn?: string; containerName?: string; containerPort?: number; loadBalancerName?: string }>;
  deploymentConfiguration?: { deploymentCircuitBreaker?: { enable?: boolean; rollback?: boolean }; maximumPercent?: number; minimumHealthyPercent?: number };
  deployments?: WireDeployment[];
  events?: WireServiceEvent[];
  createdAt?: number;
}

/** A container definition: the fields the commands read or change; the rest is carried as is. */
export interface WireContainerDefinition {
  name: string;
  image?: string;
  essential?: boolean;
  environment?: Array<{ name: string; value: string }>;
  healthCheck?: unknown;
  logConfiguration?: { logDriver?: string; options?: Record<string, string> };
  [other: string]: unknown;
}

/** A task definition, as DescribeTaskDefinition answers. */
export interface WireTaskDefinition {
  taskDefinitionArn: string;
  family: string;
  revision: number;
  status?: string;
  containerDefinitions: WireContainerDefinition[];
  [other: string]: unknown;
}

/** One target of a target group and its health, from DescribeTargetHealth. */
export interface TargetHealth {
  targetGroupArn: string;
  id: string;
  port?: number;
  state: string;
  reason?: string;
  description?: string;
}

/** The API calls the client commands make, for one endpoint and set of credentials. */
export class BerthApi {
  /** Calls an ECS operation. */
  readonly ecs: ReturnType<typeof jsonService>;
  /** Calls a CloudWatch Logs operation. */
  readonly logs: ReturnType<typeof jsonService>;

  constructor(readonly config: ClientConfig) {
    this.ecs = jsonService(config, 'ecs');
    this.logs = jsonService(config, 'logs');
  }

  /**
   * A service by name or ARN. A missing or deleted (INACTIVE) one is a
   * ServiceNotFoundException, as the other ECS operations report it.
   */
  async service(cluster: string, name: string, opts: { allowInactive?: boolean } = {}): Promise<WireService> {
    const out = await this.ecs<{ services?: WireService[] }>('DescribeServices', { cluster, services: [name] });
    const svc = out.services?.[0];
    if (!svc || (svc.status === 'INACTIVE' && !opts.allowInactive)) {
      throw new AwsApiError('ServiceNotFoundException', `Service '${name}' not found in cluster '${cluster}'.`, 400);
    }
    return svc;
  }

  /** Every ACTIVE or DRAINING service of a cluster (ListServices pages, DescribeServices by 10). */
  async services(cluster: string): Promise<WireService[]> {
    const arns: string[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.ecs<{ serviceArns?: string[]; nextToken?: string }>('ListServices', { cluster, nextToken, maxResults: 100 });
      arns.push(...(page.serviceArns ?? []));
      nextToken = page.nextToken;
    } while (nextToken);
    const out: WireService[] = [];
    for (let i = 0; i < arns.length; i += 10) {
      const page = await this.ecs<{ services?: WireService[] }>('DescribeServices', { cluster, services: arns.slice(i, i + 10) });
      out.push(...(page.services ?? []));
    }
    return out.sort((a, b) => a.serviceName.localeCompare(b.serviceName));
  }

  /** The ARNs ListTasks gives for a filter, every page. */
  async taskArns(cluster: string, filter: { serviceName?: string; desiredStatus?: 'RUNNING' | 'STOPPED'; startedBy?: string; family?: string }): Promise<string[]> {
    const arns: string[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.ecs<{ taskArns?: string[]; nextToken?: string }>('ListTasks', { cluster, ...filter, nextToken, maxResults: 100 });
      arns.push(...(page.taskArns ?? []));
      nextToken = page.nextToken;
    } while (nextToken);
    return arns;
  }

  /** DescribeTasks for any number of tasks (ids or ARNs); the ones not found are left out. */
  async tasks(cluster: string, tasks: string[]): Promise<WireTask[]> {
    const out: WireTask[] = [];
    for (let i = 0; i < tasks.length; i += 100) {
      const page = await this.ecs<{ tasks?: WireTask[] }>('DescribeTasks', { cluster, tasks: tasks.slice(i, i + 100) });
      out.push(...(page.tasks ?? []));
    }
    return out;
  }

  /** The tasks of a cluster (or of one service): those wanted running and those stopping or stopped. */
  async allTasks(cluster: string, filter: { serviceName?: string } = {}): Promise<WireTask[]> {
    const arns = new Set([...(await this.taskArns(cluster, { ...filter, desiredStatus: 'RUNNING' })), ...(await this.taskArns(cluster, { ...filter, desiredStatus: 'STOPPED' }))]);
    return this.tasks(cluster, [...arns]);
  }

  /** A task definition by family, family:revision or ARN. */
  async taskDefinition(name: string): Promise<WireTaskDefinition> {
    const out = await this.ecs<{ taskDefinition: WireTaskDefinition }>('DescribeTaskDefinition', { taskDefinition: name });
    return out.taskDefinition;
  }

  /** The targets of a target group and their health (DescribeTargetHealth, ELBv2's query protocol). */
  async targetHealth(targetGroupArn: string): Promise<TargetHealth[]> {
    const result = await callQuery(this.config, 'elbv2', 'DescribeTargetHealth', { TargetGroupArn: targetGroupArn });
    return result.members('TargetHealthDescriptions').map((d) => {
      const port = d.textAt('Target', 'Port');
      return {
        targetGroupArn,
        id: d.textAt('Target', 'Id') ?? '',
        port: port === undefined ? undefined : Number(port),
        state: d.textAt('TargetHealth', 'State') ?? 'unknown',
        reason: d.textAt('TargetHealth', 'Reason'),
        description: d.textAt('TargetHealth', 'Description'),
      };
    });
  }
}

/** The stop reason of a task and of its containers that say more, in one line. */
export function stopReasonOf(task: WireTask): string {
  const parts = [task.stoppedReason ?? task.stopCode ?? 'stopped'];
  for (const c of task.containers ?? []) {
    if (c.reason && !parts.some((p) => p.includes(c.reason!))) parts.push(`${c.name}: ${c.reason}`);
  }
  return parts.join('; ');
}

/**
 * Whether a stopped task never ran: it failed to start (image pull, container start, secrets,
 * dependencies), or was stopped before any container ran. A container with an exit code did
 * run: a task that ends before its RUNNING state is reported is recorded without startedAt and
 * with stop code TaskFailedToStart, yet its containers' exit codes tell what happened.
 */
export function neverStarted(task: WireTask): boolean {
  if (task.lastStatus !== 'STOPPED') return false;
  if ((task.containers ?? []).some((c) => typeof c.exitCode === 'number')) return false;
  return task.stopCode === 'TaskFailedToStart' || task.startedAt === undefined;
}

/** `service` for a service's task (group `service:<name>`), else the task's group. */
export function groupLabel(task: WireTask): string {
  const g = task.group ?? '-';
  return g.startsWith('service:') ? g.slice('service:'.length) : g;
}

/**
 * How a task's containers are reached from its host: `0.0.0.0:49153->8080/tcp`, one entry per
 * host port binding, as `docker ps` shows them.
 */
export function portBindings(task: WireTask): Array<{ container: string; hostIp: string; hostPort: number; containerPort: number; protocol: string }> {
  const out = [];
  for (const c of task.containers ?? []) {
    for (const b of c.networkBindings ?? []) {
      if (b.hostPort === undefined) continue;
      out.push({ container: c.name, hostIp: b.bindingIP ?? '0.0.0.0', hostPort: b.hostPort, containerPort: b.containerPort ?? b.hostPort, protocol: b.protocol ?? 'tcp' });
    }
  }
  return out;
}

/** Health states from best to worst; a task in several target groups shows its worst. */
const TARGET_STATE_RANK = ['healthy', 'initial', 'draining', 'unhealthy.draining', 'unhealthy', 'unavailable', 'unused', 'unregistered'];

/**
 * The target health of each task of a service, by task ARN: the target whose port (and address,
 * when the binding names one) is the task's host port for the load balancer's container and
 * port, worst over the service's target groups; `unregistered` when a target group does not
 * hold the task.
 */
export function healthByTask(service: Pick<WireService, 'loadBalancers'>, tasks: WireTask[], targets: TargetHealth[]): Map<string, TargetHealth> {
  const out = new Map<string, TargetHealth>();
  for (const lb of service.loadBalancers ?? []) {
    if (!lb.targetGroupArn) continue;
    const inGroup = targets.filter((t) => t.targetGroupArn === lb.targetGroupArn);
    for (const task of tasks) {
      const binding = task.containers?.find((c) => c.name === lb.containerName)?.networkBindings?.find((b) => b.containerPort === lb.containerPort);
      if (binding?.hostPort === undefined) continue;
      const samePort = inGroup.filter((t) => t.port === binding.hostPort);
      const anyAddress = !binding.bindingIP || binding.bindingIP === '0.0.0.0' || binding.bindingIP === '::';
      const found = samePort.find((t) => t.id === binding.bindingIP) ?? (anyAddress || samePort.length === 1 ? samePort[0] : undefined);
      const health: TargetHealth = found ?? { targetGroupArn: lb.targetGroupArn, id: '', port: binding.hostPort, state: 'unregistered' };
      const before = out.get(task.taskArn);
      if (!before || rank(health.state) > rank(before.state)) out.set(task.taskArn, health);
    }
  }
  return out;
}

function rank(state: string): number {
  const i = TARGET_STATE_RANK.indexOf(state);
  return i < 0 ? TARGET_STATE_RANK.length : i;
}

/** The target health of every target group the services use (each group asked once). */
export async function targetsOf(api: BerthApi, services: Array<Pick<WireService, 'loadBalancers'>>): Promise<TargetHealth[]> {
  const groups = new Set(services.flatMap((s) => (s.loadBalancers ?? []).map((lb) => lb.targetGroupArn).filter((a): a is string => Boolean(a))));
  const out: TargetHealth[] = [];
  for (const tg of groups) {
    try {
      out.push(...(await api.targetHealth(tg)));
    } catch (e) {
      // A target group deleted under a service: its tasks show as unregistered.
      if (!(e instanceof AwsApiError && e.code === 'TargetGroupNotFound')) throw e;
    }
  }
  return out;
}
