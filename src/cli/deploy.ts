/**
 * `berth deploy` and `berth rollback`: change what a service runs (UpdateService), then follow
 * the deployment until it is over, like `kamal deploy` or `nomad job run`:
 *
 * - the new deployment's tasks: started, running, healthy in the service's target groups
 *   (DescribeTargetHealth) or by their container health checks, failed;
 * - the old tasks: running, draining (deregistered, connections finishing) or stopping, stopped;
 * - the deployment circuit breaker: the deployment FAILED and, with rollback, the deployment
 *   that returns to the last completed one, followed until it is over too;
 * - the service's events as they come.
 *
 * On a terminal the status lines are redrawn in place (log-update); in a pipe each line is
 * printed when it changes. Exit status 0 when the new deployment COMPLETED, 1 otherwise (failed,
 * rolled back, replaced by another deployment, timed out), with the reason on standard error.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { AwsApiError } from '../client/awsClient.js';
import { BerthApi, healthByTask, targetsOf, type TargetHealth, type WireContainerDefinition, type WireDeployment, type WireService, type WireServiceEvent, type WireTask, type WireTaskDefinition } from './api.js';
import { UsageError } from './connect.js';
import { duration, epochMs, isoTime, padVisible, plural, taskDefinitionName, targetGroupName } from './format.js';
import { stoppedLine } from './logs.js';
import { LiveBlock, type Terminal } from './terminal.js';

/** How often the deployment is looked at. */
const DEPLOY_POLL_MS = 500;
/**
 * After the deployment FAILED with rollback on, how long to wait for the rollback deployment to
 * appear before reporting a failure without one (both are written by one controller pass).
 */
const ROLLBACK_APPEARS_MS = 3_000;
/** The reason a circuit-breaker rollback deployment carries. */
const ROLLBACK_REASON_PREFIX = 'ECS deployment circuit breaker: rolling back';

/** The fields of a task definition that RegisterTaskDefinition takes back (the rest is ECS's bookkeeping). */
const REGISTERABLE_FIELDS = [
  'family',
  'taskRoleArn',
  'executionRoleArn',
  'networkMode',
  'containerDefinitions',
  'volumes',
  'placementConstraints',
  'requiresCompatibilities',
  'cpu',
  'memory',
  'pidMode',
  'ipcMode',
  'proxyConfiguration',
  'inferenceAccelerators',
  'ephemeralStorage',
  'runtimePlatform',
] as const;

/** The flags of `berth deploy` and `berth rollback`. */
export interface DeployFlags {
  cluster: string;
  taskDefinition?: string;
  image?: string;
  container?: string;
  env: Record<string, string>;
  detach?: boolean;
  timeoutMs: number;
  output: 'text' | 'json';
}

/** How a followed deployment ended. */
export type DeployOutcome = 'COMPLETED' | 'FAILED' | 'ROLLED_BACK' | 'SUPERSEDED' | 'SERVICE_DELETED' | 'TIMED_OUT' | 'INTERRUPTED';

/** What following a deployment found. */
export interface DeployResult {
  outcome: DeployOutcome;
  /** Why it did not complete. */
  reason?: string;
  /** Our deployment as last seen. */
  deployment?: WireDeployment;
  /** The circuit breaker's rollback deployment, as last seen. */
  rollback?: WireDeployment;
  /** The deployment that replaced ours (SUPERSEDED). */
  replacedBy?: WireDeployment;
  /** Service events that came while following, oldest first. */
  events: WireServiceEvent[];
  elapsedMs: number;
}

/** Parses repeated `K=V` flags into an environment; `K=` sets an empty value. */
export function parseEnvPairs(pairs: string[] | undefined, flag = '--env'): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of pairs ?? []) {
    const i = p.indexOf('=');
    if (i <= 0) throw new UsageError(`${flag} takes NAME=value: got '${p}'`);
    const name = p.slice(0, i);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new UsageError(`${flag}: '${name}' is not a valid environment variable name`);
    out[name] = p.slice(i + 1);
  }
  return out;
}

/** The container `--image`/`--env` change: the one named, or the only one. */
function pickContainer(td: WireTaskDefinition, name: string | undefined): WireContainerDefinition {
  const names = td.containerDefinitions.map((c) => c.name);
  if (name !== undefined) {
    const c = td.containerDefinitions.find((x) => x.name === name);
    if (!c) throw new UsageError(`--container: ${taskDefinitionName(td.taskDefinitionArn)} has no container '${name}' (it has ${names.join(', ')}).`);
    return c;
  }
  if (td.containerDefinitions.length !== 1) {
    throw new UsageError(`${taskDefinitionName(td.taskDefinitionArn)} has ${td.containerDefinitions.length} containers (${names.join(', ')}): say which one to change with --container.`);
  }
  return td.containerDefinitions[0]!;
}

/**
 * The RegisterTaskDefinition input for a copy of `td` with a container's image and environment
 * changed (the family stays, so this is its next revision).
 */
export function revisedTaskDefinition(td: WireTaskDefinition, change: { image?: string; env: Record<string, string>; container?: string }, tags?: unknown[]): Record<string, unknown> {
  const input: Record<string, unknown> = {};
  for (const f of REGISTERABLE_FIELDS) if (td[f] !== undefined && td[f] !== null) input[f] = structuredClone(td[f]);
  const target = pickContainer(td, change.container).name;
  input.containerDefinitions = td.containerDefinitions.map((c) => {
    if (c.name !== target) return c;
    const next: WireContainerDefinition = { ...c };
    if (change.image !== undefined) next.image = change.image;
    if (Object.keys(change.env).length) {
      const env = (c.environment ?? []).filter((e) => !(e.name in change.env));
      next.environment = [...env, ...Object.entries(change.env).map(([name, value]) => ({ name, value }))];
    }
    return next;
  });
  if (tags?.length) input.tags = tags;
  return input;
}

/** The PRIMARY deployment of a service. */
function primaryOf(svc: WireService): WireDeployment | undefined {
  return svc.deployments?.find((d) => d.status === 'PRIMARY');
}

/** Counts of one deployment's tasks. */
interface DeploymentTasks {
  running: number;
  pending: number;
  healthy: number;
  failed: number;
}

/** A picture of the deployment at one moment, and what it says to the person watching. */
interface Snapshot {
  service: WireService;
  ours?: WireDeployment;
  rollback?: WireDeployment;
  tasks: WireTask[];
  health: Map<string, TargetHealth>;
}

/** Whether a task is live (not stopped, not being stopped). */
function liveRunning(t: WireTask): boolean {
  return t.lastStatus !== 'STOPPED' && t.desiredStatus !== 'STOPPED';
}

/** Whether a stopped task counts as failed (it did not start, or its essential container exited). */
function failedTask(t: WireTask): boolean {
  return t.lastStatus === 'STOPPED' && (t.stopCode === 'TaskFailedToStart' || t.stopCode === 'EssentialContainerExited' || (t.stoppedReason ?? '').startsWith('Task failed '));
}

/**
 * Whether an old task's target has left its target group or is leaving it (draining): the
 * scheduler deregistered it and stops the task once the deregistration delay has passed.
 */
function isDeregistered(h: TargetHealth | undefined): boolean {
  return h !== undefined && (h.state === 'draining' || h.state === 'unhealthy.draining' || h.state === 'unregistered');
}

/** A service event as the progress shows it: without the `(service x)` prefix, target groups by name. */
export function shortEvent(message: string): string {
  return message.replace(/^\(service [^)]*\) /, '').replace(/arn:aws[\w-]*:elasticloadbalancing:[^:]*:\d*:targetgroup\/([^/\s)]+)\/[0-9a-f]+/g, '$1');
}

/** Follows one deployment; see the module doc. */
class DeploymentWatch {
  /** Old tasks seen live at some point (they are "stopped" once they stop). */
  private readonly oldSeenLive = new Set<string>();
  private readonly seenEvents = new Set<string>();
  private readonly events: WireServiceEvent[] = [];
  private readonly healthVia: 'target group' | 'health check' | undefined;
  private failedSince: number | undefined;
  private lastOurs: WireDeployment | undefined;
  private lastRollback: WireDeployment | undefined;

  constructor(
    private readonly api: BerthApi,
    private readonly cluster: string,
    private readonly before: WireService,
    private readonly deploymentId: string,
    private readonly labels: { from: string; to: string },
    private readonly view: LiveBlock | undefined,
    private readonly term: Terminal,
  ) {
    for (const e of before.events ?? []) this.seenEvents.add(e.id);
    this.healthVia = before.loadBalancers?.some((lb) => lb.targetGroupArn) ? 'target group' : undefined;
  }

  /** Follows the deployment until it is over, the timeout passes or `signal` aborts. */
  async follow(timeoutMs: number, signal: AbortSignal): Promise<DeployResult> {
    const start = Date.now();
    for (;;) {
      const snap = await this.look();
      const result = this.verdict(snap);
      this.show(snap, result ? undefined : Date.now() - start);
      if (result) return { ...result, events: this.events, elapsedMs: Date.now() - start, deployment: this.lastOurs, rollback: this.lastRollback };
      if (Date.now() - start >= timeoutMs) {
        return { outcome: 'TIMED_OUT', reason: `gave up waiting after ${duration(timeoutMs)}: deployment ${this.deploymentId} is still ${snap.ours?.rolloutState ?? 'in progress'}`, events: this.events, elapsedMs: Date.now() - start, deployment: this.lastOurs, rollback: this.lastRollback };
      }
      try {
        await sleep(DEPLOY_POLL_MS, undefined, { signal });
      } catch {
        return { outcome: 'INTERRUPTED', reason: 'stopped watching; the deployment goes on', events: this.events, elapsedMs: Date.now() - start, deployment: this.lastOurs, rollback: this.lastRollback };
      }
    }
  }

  private async look(): Promise<Snapshot> {
    const service = await this.api.service(this.cluster, this.before.serviceName, { allowInactive: true });
    const fresh = (service.events ?? []).filter((e) => !this.seenEvents.has(e.id)).reverse();
    for (const e of fresh) {
      this.seenEvents.add(e.id);
      this.events.push(e);
      this.view?.note(this.term.style.dim(`${(isoTime(e.createdAt) ?? '').slice(11, 19)}  ${shortEvent(e.message)}`));
    }
    const ours = service.deployments?.find((d) => d.id === this.deploymentId);
    const primary = primaryOf(service);
    const rollback = primary && primary.id !== this.deploymentId && (primary.rolloutStateReason ?? '').startsWith(ROLLBACK_REASON_PREFIX) && (epochMs(primary.createdAt) ?? 0) >= (epochMs(this.lastOurs?.createdAt ?? ours?.createdAt) ?? 0) ? primary : undefined;
    if (ours) this.lastOurs = ours;
    if (rollback) this.lastRollback = rollback;
    const tasks = await this.api.allTasks(this.cluster, { serviceName: service.serviceName });
    const health = this.healthVia === 'target group' ? healthByTask(service, tasks, await targetsOf(this.api, [service])) : new Map<string, TargetHealth>();
    for (const t of tasks) if (t.startedBy !== this.deploymentId && t.startedBy !== rollback?.id && t.lastStatus !== 'STOPPED') this.oldSeenLive.add(t.taskArn);
    return { service, ours, rollback, tasks, health };
  }

  private verdict(snap: Snapshot): Omit<DeployResult, 'events' | 'elapsedMs'> | undefined {
    const { service, ours, rollback } = snap;
    if (service.status === 'INACTIVE') return { outcome: 'SERVICE_DELETED', reason: `service ${service.serviceName} was deleted during the deployment` };
    if (ours?.rolloutState === 'COMPLETED') return { outcome: 'COMPLETED' };
    const failedReason = this.lastOurs?.rolloutState === 'FAILED' || rollback ? `deployment ${this.deploymentId} failed: ${this.failureReason(snap)}` : undefined;
    if (rollback) {
      if (rollback.rolloutState === 'COMPLETED' || rollback.rolloutState === 'FAILED') {
        return { outcome: 'ROLLED_BACK', reason: `${failedReason}; rolled back to ${taskDefinitionName(rollback.taskDefinition)} (rollback ${rollback.rolloutState === 'COMPLETED' ? 'completed' : 'failed too'})` };
      }
      return undefined; // follow the rollback
    }
    if (ours?.rolloutState === 'FAILED') {
      const rollbackOn = service.deploymentConfiguration?.deploymentCircuitBreaker?.rollback === true;
      this.failedSince ??= Date.now();
      if (!rollbackOn || Date.now() - this.failedSince >= ROLLBACK_APPEARS_MS) return { outcome: 'FAILED', reason: failedReason };
      return undefined;
    }
    if (!ours) {
      const primary = primaryOf(service);
      return { outcome: 'SUPERSEDED', reason: `deployment ${this.deploymentId} was replaced by deployment ${primary?.id ?? '?'} (${taskDefinitionName(primary?.taskDefinition)}) before it completed`, replacedBy: primary };
    }
    return undefined;
  }

  /**
   * The circuit breaker's reason, with the first failed task's own (the first failure is the
   * telling one: later tasks may have been stopped by the rollback itself).
   */
  private failureReason(snap: Snapshot): string {
    const base = (this.lastOurs?.rolloutStateReason ?? 'the deployment failed').replace(/\.$/, '');
    const failures = snap.tasks.filter((t) => t.startedBy === this.deploymentId && failedTask(t)).sort((a, b) => (a.stoppedAt ?? 0) - (b.stoppedAt ?? 0));
    return failures[0] ? `${base} (${plural(failures.length, 'task')} failed; first: ${stoppedLine(failures[0])})` : base;
  }

  private counts(snap: Snapshot, deploymentId: string): DeploymentTasks {
    const mine = snap.tasks.filter((t) => t.startedBy === deploymentId);
    const live = mine.filter(liveRunning);
    const running = live.filter((t) => t.lastStatus === 'RUNNING');
    let healthy = 0;
    if (this.healthVia === 'target group') healthy = running.filter((t) => snap.health.get(t.taskArn)?.state === 'healthy').length;
    else healthy = running.filter((t) => t.healthStatus === 'HEALTHY').length;
    return { running: running.length, pending: live.length - running.length, healthy, failed: mine.filter(failedTask).length };
  }

  /** The status lines for this moment (the clock only on a terminal: a log gets a line per change). */
  lines(snap: Snapshot, elapsedMs: number | undefined): string[] {
    const { green, red, yellow, bold } = this.term.style;
    const out: string[] = [];
    const withHealth = this.healthVia !== undefined || snap.tasks.some((t) => t.healthStatus === 'HEALTHY' || t.healthStatus === 'UNHEALTHY');
    const groups = (snap.service.loadBalancers ?? []).flatMap((lb) => (lb.targetGroupArn ? [targetGroupName(lb.targetGroupArn)] : []));
    const row = (label: string, d: WireDeployment | undefined, id: string) => {
      const c = this.counts(snap, id);
      const desired = d?.desiredCount ?? snap.service.desiredCount ?? 0;
      const parts = [`${c.running}/${desired} running`];
      if (withHealth) parts.push(`${c.healthy}/${desired} healthy${groups.length ? ` in ${groups.join(', ')}` : ''}`);
      if (c.pending) parts.push(`${c.pending} starting`);
      const failed = Math.max(c.failed, d?.failedTasks ?? 0);
      if (failed) parts.push(red(`${failed} failed`));
      const state = d?.rolloutState ?? '';
      const painted = state === 'COMPLETED' ? green(state) : state === 'FAILED' ? red(state) : yellow(state || 'IN_PROGRESS');
      return `  ${label.padEnd(22)} ${padVisible(painted, 11)}  ${parts.join(' · ')}`;
    };
    out.push(row(`${this.labels.to} (new)`, snap.ours ?? this.lastOurs, this.deploymentId));
    if (snap.rollback) out.push(row(`${taskDefinitionName(snap.rollback.taskDefinition)} (rollback)`, snap.rollback, snap.rollback.id));
    const old = snap.tasks.filter((t) => t.startedBy !== this.deploymentId && t.startedBy !== snap.rollback?.id);
    if (this.oldSeenLive.size || old.some((t) => t.lastStatus !== 'STOPPED')) {
      const live = old.filter((t) => t.lastStatus !== 'STOPPED');
      const draining = live.filter((t) => t.desiredStatus === 'STOPPED' || isDeregistered(snap.health.get(t.taskArn))).length;
      const stopped = old.filter((t) => t.lastStatus === 'STOPPED' && this.oldSeenLive.has(t.taskArn)).length;
      const fromNames = [...new Set(old.filter((t) => this.oldSeenLive.has(t.taskArn)).map((t) => taskDefinitionName(t.taskDefinitionArn)))].join(', ') || this.labels.from;
      out.push(`  ${`${fromNames} (old)`.padEnd(22)} ${''.padEnd(11)}  ${live.length - draining} running · ${draining} draining · ${stopped} stopped`);
    }
    if (this.view?.live && elapsedMs !== undefined) out.push(`  ${bold(duration(elapsedMs))}`);
    return out;
  }

  /** Draws the status lines; without `elapsedMs` (the final state) there is no clock line. */
  private show(snap: Snapshot, elapsedMs: number | undefined): void {
    this.view?.update(this.lines(snap, elapsedMs));
  }
}

/** What a deploy changes: a task definition to run, or a fresh start of the current one. */
interface Change {
  taskDefinition?: string;
  force?: boolean;
  registered?: string;
}

/** Calls UpdateService and follows the new deployment; resolves with the exit status. */
async function updateAndFollow(api: BerthApi, before: WireService, change: Change, flags: DeployFlags, term: Terminal, verb: 'Deploying' | 'Rolling back'): Promise<number> {
  const { cluster } = flags;
  const name = before.serviceName;
  const from = taskDefinitionName(before.taskDefinition);
  const previousPrimary = primaryOf(before);
  const updated = (
    await api.ecs<{ service: WireService }>('UpdateService', { cluster, service: name, taskDefinition: change.taskDefinition, forceNewDeployment: change.force ? true : undefined })
  ).service;
  const ours = primaryOf(updated);
  const to = taskDefinitionName(ours?.taskDefinition ?? updated.taskDefinition);
  const json = flags.output === 'json';
  const doc = (extra: Record<string, unknown>) => ({ cluster, service: name, deploymentId: ours?.id, previousTaskDefinition: from, taskDefinition: to, registered: change.registered, ...extra });
  if (!ours || ours.id === previousPrimary?.id) {
    if (json) term.out(JSON.stringify(doc({ outcome: 'UNCHANGED' }), null, 2) + '\n');
    else term.out(`${name} already runs ${to}: nothing to deploy (berth deploy ${name} alone starts fresh tasks).\n`);
    return 0;
  }
  if (flags.detach) {
    if (json) term.out(JSON.stringify(doc({ outcome: 'STARTED' }), null, 2) + '\n');
    else term.out(`${verb} ${name}: ${from} → ${to}, deployment ${ours.id} started (follow it with: berth events ${name} -f)\n`);
    return 0;
  }
  const view = json ? undefined : new LiveBlock(term);
  if (!json) term.out(`${term.style.bold(`${verb} ${name}`)} in cluster ${cluster}: ${from} → ${to} (deployment ${ours.id})\n`);
  const watch = new DeploymentWatch(api, cluster, before, ours.id, { from, to }, view, term);
  const interrupted = new AbortController();
  const onInterrupt = () => interrupted.abort();
  process.once('SIGINT', onInterrupt);
  let result: DeployResult;
  try {
    result = await watch.follow(flags.timeoutMs, interrupted.signal);
  } finally {
    process.off('SIGINT', onInterrupt);
    view?.done();
  }
  if (json) {
    term.out(
      JSON.stringify(
        doc({
          outcome: result.outcome,
          reason: result.reason,
          rolloutState: result.deployment?.rolloutState,
          rollback: result.rollback ? { deploymentId: result.rollback.id, taskDefinition: taskDefinitionName(result.rollback.taskDefinition), rolloutState: result.rollback.rolloutState } : undefined,
          elapsedSeconds: Math.round(result.elapsedMs / 100) / 10,
          events: result.events.map((e) => ({ createdAt: isoTime(e.createdAt), message: e.message })),
        }),
        null,
        2,
      ) + '\n',
    );
  } else if (result.outcome === 'COMPLETED') {
    const d = result.deployment;
    term.out(`${term.style.green('✔')} ${name}: deployment ${ours.id} completed in ${duration(result.elapsedMs)}: ${to}, ${plural(d?.runningCount ?? d?.desiredCount ?? 0, 'task')} running\n`);
  } else {
    term.err(`${term.errStyle.red('berth:')} ${name}: ${result.reason}\n`);
  }
  if (result.outcome === 'COMPLETED') return 0;
  return result.outcome === 'INTERRUPTED' ? 130 : 1;
}

/**
 * `berth deploy <service>`: --task-definition runs a registered revision; --image / --env
 * register the next revision of the service's task definition with that change first; with
 * neither, the service starts fresh tasks of its current task definition (forceNewDeployment).
 */
export async function deployCommand(api: BerthApi, serviceName: string, flags: DeployFlags, term: Terminal): Promise<number> {
  const changes = flags.image !== undefined || Object.keys(flags.env).length > 0;
  if (flags.taskDefinition !== undefined && changes) throw new UsageError('--task-definition cannot be combined with --image or --env (they make a new revision of the current one).');
  if (flags.container !== undefined && !changes) throw new UsageError('--container only says which container --image or --env change.');
  const before = await api.service(flags.cluster, serviceName);
  if (flags.taskDefinition !== undefined) {
    const td = await api.taskDefinition(flags.taskDefinition);
    return updateAndFollow(api, before, { taskDefinition: td.taskDefinitionArn }, flags, term, 'Deploying');
  }
  if (!changes) return updateAndFollow(api, before, { force: true }, flags, term, 'Deploying');
  const described = await api.ecs<{ taskDefinition: WireTaskDefinition; tags?: unknown[] }>('DescribeTaskDefinition', { taskDefinition: before.taskDefinition, include: ['TAGS'] });
  const input = revisedTaskDefinition(described.taskDefinition, { image: flags.image, env: flags.env, container: flags.container }, described.tags);
  const registered = (await api.ecs<{ taskDefinition: WireTaskDefinition }>('RegisterTaskDefinition', input)).taskDefinition;
  if (flags.output !== 'json') term.out(`Registered ${taskDefinitionName(registered.taskDefinitionArn)} (from ${taskDefinitionName(described.taskDefinition.taskDefinitionArn)}${flags.image !== undefined ? `, image ${flags.image}` : ''}${Object.keys(flags.env).length ? `, env ${Object.keys(flags.env).join(' ')}` : ''})\n`);
  return updateAndFollow(api, before, { taskDefinition: registered.taskDefinitionArn, registered: taskDefinitionName(registered.taskDefinitionArn) }, flags, term, 'Deploying');
}

/** The ACTIVE revisions of a family, newest first. */
async function activeRevisions(api: BerthApi, family: string): Promise<string[]> {
  const arns: string[] = [];
  let nextToken: string | undefined;
  do {
    const page = await api.ecs<{ taskDefinitionArns?: string[]; nextToken?: string }>('ListTaskDefinitions', { familyPrefix: family, status: 'ACTIVE', sort: 'DESC', nextToken });
    arns.push(...(page.taskDefinitionArns ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  return arns.filter((a) => taskDefinitionName(a).replace(/:\d+$/, '') === family);
}

/**
 * The task definition `berth rollback` returns a service to: that of the newest other
 * deployment that COMPLETED (a deployment still rolling out goes back to where it was), else
 * the newest ACTIVE revision of its family older than the one it runs.
 */
export async function rollbackTarget(api: BerthApi, svc: WireService): Promise<string> {
  const current = svc.taskDefinition ?? '';
  const completed = (svc.deployments ?? [])
    .filter((d) => d.status !== 'PRIMARY' && d.rolloutState === 'COMPLETED' && d.taskDefinition !== current)
    .sort((a, b) => (epochMs(b.createdAt) ?? 0) - (epochMs(a.createdAt) ?? 0))[0];
  if (completed) return completed.taskDefinition;
  const name = taskDefinitionName(current);
  const m = /^(.+):(\d+)$/.exec(name);
  if (!m) throw new Error(`cannot tell the revision of ${name}`);
  const [, family, revision] = m;
  const older = (await activeRevisions(api, family!)).find((a) => Number(/:(\d+)$/.exec(a)?.[1]) < Number(revision));
  if (!older) throw new AwsApiError('ClientException', `There is no earlier ACTIVE revision of ${family} than ${name} to roll back to.`, 400);
  return older;
}

/** `berth rollback <service>`: back to the previous task definition (see `rollbackTarget`), followed like a deploy. */
export async function rollbackCommand(api: BerthApi, serviceName: string, flags: DeployFlags, term: Terminal): Promise<number> {
  const before = await api.service(flags.cluster, serviceName);
  const target = await rollbackTarget(api, before);
  return updateAndFollow(api, before, { taskDefinition: target }, flags, term, 'Rolling back');
}

