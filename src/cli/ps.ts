/**
 * `berth ps`: what runs in a cluster, like `docker ps` and `nomad status`: its services (desired,
 * running and pending counts, deployments and their rollout state, health in their target
 * groups) and its tasks (id, service or group, status, health, host port bindings, age).
 * `--output json` prints the same as one JSON document.
 */
import {
  BerthApi,
  groupLabel,
  neverStarted,
  healthByTask,
  portBindings,
  targetsOf,
  type TargetHealth,
  type WireService,
  type WireTask,
} from './api.js';
import { ago, isoTime, lastSegment, table, taskDefinitionName, targetGroupName } from './format.js';
import type { Terminal } from './terminal.js';

/** The flags of `berth ps`. */
export interface PsFlags {
  cluster: string;
  all?: boolean;
  output: 'text' | 'json';
}

/** A task's health as `ps` shows it: its target's state when it is behind a load balancer, else its container health. */
function taskHealth(task: WireTask, target: TargetHealth | undefined): string {
  if (target) return target.state;
  if (task.healthStatus && task.healthStatus !== 'UNKNOWN') return task.healthStatus.toLowerCase();
  return '-';
}

/** A service's health: healthy targets (or healthy tasks, with container health checks) of its desired count. */
function serviceHealth(svc: WireService, tasks: WireTask[], byTask: Map<string, TargetHealth>): { healthy: number; of: number; via: string } | undefined {
  const live = tasks.filter((t) => t.group === `service:${svc.serviceName}` && t.lastStatus !== 'STOPPED' && t.desiredStatus !== 'STOPPED');
  const of = svc.desiredCount ?? 0;
  if (svc.loadBalancers?.some((lb) => lb.targetGroupArn)) {
    return { healthy: live.filter((t) => byTask.get(t.taskArn)?.state === 'healthy').length, of, via: 'target group' };
  }
  if (live.some((t) => t.healthStatus === 'HEALTHY' || t.healthStatus === 'UNHEALTHY')) {
    return { healthy: live.filter((t) => t.healthStatus === 'HEALTHY').length, of, via: 'health check' };
  }
  return undefined;
}

/** `berth ps`: prints the cluster's services and tasks; resolves with the exit status. */
export async function psCommand(api: BerthApi, flags: PsFlags, term: Terminal): Promise<number> {
  const { cluster } = flags;
  const services = await api.services(cluster);
  const allTasks = await api.allTasks(cluster);
  const tasks = allTasks
    .filter((t) => flags.all || t.lastStatus !== 'STOPPED')
    .sort((a, b) => groupLabel(a).localeCompare(groupLabel(b)) || (a.createdAt ?? 0) - (b.createdAt ?? 0));
  const targets = await targetsOf(api, services);
  const byTask = new Map<string, TargetHealth>();
  for (const svc of services) {
    const mine = tasks.filter((t) => t.group === `service:${svc.serviceName}`);
    for (const [arn, h] of healthByTask(svc, mine, targets)) byTask.set(arn, h);
  }

  if (flags.output === 'json') {
    const doc = {
      cluster,
      services: services.map((s) => ({
        name: s.serviceName,
        arn: s.serviceArn,
        status: s.status,
        desiredCount: s.desiredCount ?? 0,
        runningCount: s.runningCount ?? 0,
        pendingCount: s.pendingCount ?? 0,
        taskDefinition: taskDefinitionName(s.taskDefinition),
        deployments: (s.deployments ?? []).map((d) => ({
          id: d.id,
          status: d.status,
          taskDefinition: taskDefinitionName(d.taskDefinition),
          rolloutState: d.rolloutState,
          rolloutStateReason: d.rolloutStateReason,
          desiredCount: d.desiredCount ?? 0,
          runningCount: d.runningCount ?? 0,
          pendingCount: d.pendingCount ?? 0,
          failedTasks: d.failedTasks ?? 0,
          createdAt: isoTime(d.createdAt),
        })),
        loadBalancers: (s.loadBalancers ?? []).map((lb) => ({ targetGroupArn: lb.targetGroupArn, containerName: lb.containerName, containerPort: lb.containerPort })),
        health: serviceHealth(s, allTasks, byTask) ?? null,
      })),
      tasks: tasks.map((t) => ({
        id: lastSegment(t.taskArn),
        arn: t.taskArn,
        group: t.group,
        service: t.group?.startsWith('service:') ? groupLabel(t) : null,
        taskDefinition: taskDefinitionName(t.taskDefinitionArn),
        lastStatus: t.lastStatus,
        desiredStatus: t.desiredStatus,
        health: taskHealth(t, byTask.get(t.taskArn)),
        ports: portBindings(t),
        createdAt: isoTime(t.createdAt),
        startedAt: isoTime(t.startedAt),
        stoppedAt: isoTime(t.stoppedAt),
        stopCode: t.stopCode,
        stoppedReason: t.stoppedReason,
        containers: (t.containers ?? []).map((c) => ({ name: c.name, lastStatus: c.lastStatus, exitCode: c.exitCode, healthStatus: c.healthStatus, reason: c.reason })),
      })),
    };
    term.out(JSON.stringify(doc, null, 2) + '\n');
    return 0;
  }

  const { bold, green, red, yellow } = term.style;
  const stateColor = (s: string | undefined) => (s === 'COMPLETED' ? green : s === 'FAILED' ? red : yellow);
  if (services.length) {
    const rows = services.map((s) => {
      const deployments = (s.deployments ?? [])
        .map((d) => `${taskDefinitionName(d.taskDefinition)} ${stateColor(d.rolloutState)(d.rolloutState ?? d.status)}${d.status === 'PRIMARY' ? '' : ` (${d.runningCount ?? 0} running)`}`)
        .join(', ');
      const h = serviceHealth(s, allTasks, byTask);
      const groups = targetGroupsOf(s);
      const health = h ? (h.healthy >= h.of ? green : yellow)(`${h.healthy}/${h.of} healthy`) + (groups.length ? ` (${groups.join(', ')})` : '') : '-';
      return [s.serviceName, s.status, String(s.desiredCount ?? 0), String(s.runningCount ?? 0), String(s.pendingCount ?? 0), taskDefinitionName(s.taskDefinition), deployments || '-', health];
    });
    term.out(bold('SERVICES') + '\n' + table(['NAME', 'STATUS', 'DESIRED', 'RUNNING', 'PENDING', 'TASK DEFINITION', 'DEPLOYMENTS', 'HEALTH'], rows));
  } else {
    term.out(`No services in cluster '${cluster}'.\n`);
  }
  term.out('\n');
  if (tasks.length) {
    const now = Date.now();
    const rows = tasks.map((t) => {
      const status = t.lastStatus === 'STOPPED' ? `STOPPED${exitNote(t)}` : t.desiredStatus === 'STOPPED' ? `${t.lastStatus} (stopping)` : (t.lastStatus ?? '-');
      const ports = portBindings(t).map((p) => `${p.hostIp}:${p.hostPort}->${p.containerPort}/${p.protocol}`).join(', ') || '-';
      const health = taskHealth(t, byTask.get(t.taskArn));
      const colored = health === 'healthy' ? green(health) : health === 'unhealthy' ? red(health) : health;
      return [lastSegment(t.taskArn), groupLabel(t), taskDefinitionName(t.taskDefinitionArn), status, colored, ports, t.startedAt !== undefined ? ago(t.startedAt, now) : t.lastStatus === 'STOPPED' ? 'never' : 'not yet'];
    });
    term.out(bold('TASKS') + '\n' + table(['ID', 'SERVICE/GROUP', 'TASK DEFINITION', 'STATUS', 'HEALTH', 'PORTS', 'STARTED'], rows));
  } else {
    term.out(`No ${flags.all ? '' : 'running '}tasks in cluster '${cluster}'.\n`);
  }
  return 0;
}

/** ` (exit 3)` for a stopped task whose containers exited, ` (did not start)` for one that never ran. */
function exitNote(t: WireTask): string {
  const codes = (t.containers ?? []).filter((c) => typeof c.exitCode === 'number').map((c) => c.exitCode);
  if (neverStarted(t)) return ' (did not start)';
  return codes.length ? ` (exit ${codes.join(',')})` : '';
}

/** The names of a service's target groups. */
function targetGroupsOf(s: WireService): string[] {
  return (s.loadBalancers ?? []).flatMap((lb) => (lb.targetGroupArn ? [targetGroupName(lb.targetGroupArn)] : []));
}
