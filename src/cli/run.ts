/**
 * `berth run <task-definition>`: a one-off task, like `docker run`: RunTask, then the task's
 * output until it stops, then the exit status of its essential container. A task that never
 * started (image pull, start failure, missing secret) reports its stop reason and exits 125.
 * Ctrl-C stops the task (a second Ctrl-C leaves it running and exits at once).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { BerthApi, neverStarted, type WireTask, type WireTaskDefinition } from './api.js';
import { UsageError } from './connect.js';
import { isoTime, lastSegment, taskDefinitionName } from './format.js';
import { showLogs, stoppedLine } from './logs.js';
import type { Terminal } from './terminal.js';

/** The exit status of `berth run` when a task did not start (as `docker run` uses 125). */
export const DID_NOT_START = 125;
/** The exit status after a second Ctrl-C (128 + SIGINT). */
const INTERRUPTED = 130;
/** How often `--output json` looks at whether the tasks have stopped. */
const STATUS_POLL_MS = 1_000;

/** The flags of `berth run`. */
export interface RunFlags {
  cluster: string;
  env: Record<string, string>;
  container?: string;
  count: number;
  detach?: boolean;
  output: 'text' | 'json';
}

/**
 * The exit status a stopped task stands for: the first non-zero exit code of its essential
 * containers, 0 when they all exited 0, DID_NOT_START when it never ran, 1 when an essential
 * container has no exit code (it could not be located).
 */
export function exitStatusOf(task: WireTask, td: Pick<WireTaskDefinition, 'containerDefinitions'>): number {
  if (neverStarted(task)) return DID_NOT_START;
  const essential = new Set(td.containerDefinitions.filter((c) => c.essential !== false).map((c) => c.name));
  const containers = (task.containers ?? []).filter((c) => essential.has(c.name));
  const failed = containers.find((c) => typeof c.exitCode === 'number' && c.exitCode !== 0);
  if (failed) return failed.exitCode! >= 0 && failed.exitCode! <= 255 ? failed.exitCode! : 1;
  return containers.length > 0 && containers.every((c) => c.exitCode === 0) ? 0 : 1;
}

/** The environment overrides of a RunTask call: for `container`, or for every container. */
function overridesFor(td: WireTaskDefinition, env: Record<string, string>, container: string | undefined) {
  const names = td.containerDefinitions.map((c) => c.name);
  if (container !== undefined && !names.includes(container)) {
    throw new UsageError(`--container: ${taskDefinitionName(td.taskDefinitionArn)} has no container '${container}' (it has ${names.join(', ')}).`);
  }
  const environment = Object.entries(env).map(([name, value]) => ({ name, value }));
  if (!environment.length) return undefined;
  return { containerOverrides: (container !== undefined ? [container] : names).map((name) => ({ name, environment })) };
}

/** Waits until every task has stopped; resolves with their last states. */
async function waitStopped(api: BerthApi, cluster: string, tasks: WireTask[], signal: AbortSignal): Promise<WireTask[]> {
  let now = tasks;
  while (!now.every((t) => t.lastStatus === 'STOPPED')) {
    try {
      await sleep(STATUS_POLL_MS, undefined, { signal });
    } catch {
      break; // left early
    }
    now = await api.tasks(cluster, now.map((t) => t.taskArn));
  }
  return now;
}

/** `berth run`: resolves with the exit status (the essential container's, or why not). */
export async function runCommand(api: BerthApi, taskDefinition: string, flags: RunFlags, term: Terminal): Promise<number> {
  const { cluster } = flags;
  const td = await api.taskDefinition(taskDefinition);
  const out = await api.ecs<{ tasks?: WireTask[]; failures?: Array<{ arn?: string; reason?: string; detail?: string }> }>('RunTask', {
    cluster,
    taskDefinition: td.taskDefinitionArn,
    count: flags.count,
    startedBy: 'berth-run',
    overrides: overridesFor(td, flags.env, flags.container),
  });
  const started = out.tasks ?? [];
  const failures = (out.failures ?? []).map((f) => `${f.reason ?? 'failed'}${f.detail ? ` (${f.detail})` : ''}${f.arn ? ` on ${lastSegment(f.arn)}` : ''}`);
  if (!started.length) throw new Error(`no task was started in cluster '${cluster}': ${failures.join('; ') || 'no reason given'}`);
  if (failures.length) term.err(`berth: started ${started.length} of ${flags.count} tasks; the others could not be placed: ${failures.join('; ')}\n`);

  const describe = (tasks: WireTask[]) =>
    tasks.map((t) => ({
      id: lastSegment(t.taskArn),
      arn: t.taskArn,
      taskDefinition: taskDefinitionName(t.taskDefinitionArn),
      lastStatus: t.lastStatus,
      stopCode: t.stopCode,
      stoppedReason: t.stoppedReason,
      startedAt: isoTime(t.startedAt),
      stoppedAt: isoTime(t.stoppedAt),
      exitStatus: t.lastStatus === 'STOPPED' ? exitStatusOf(t, td) : undefined,
      containers: (t.containers ?? []).map((c) => ({ name: c.name, exitCode: c.exitCode, reason: c.reason })),
    }));

  if (flags.detach) {
    if (flags.output === 'json') term.out(JSON.stringify({ cluster, tasks: describe(started) }, null, 2) + '\n');
    else for (const t of started) term.out(`${lastSegment(t.taskArn)}\n`);
    return 0;
  }

  // Ctrl-C once: stop the tasks and keep showing them until they stop; twice: leave at once.
  const leave = new AbortController();
  let interrupts = 0;
  const onInterrupt = () => {
    interrupts++;
    if (interrupts === 1) {
      term.err(`\nberth: stopping ${started.length === 1 ? 'the task' : 'the tasks'} (Ctrl-C again to leave ${started.length === 1 ? 'it' : 'them'} running)\n`);
      for (const t of started) void api.ecs('StopTask', { cluster, task: t.taskArn, reason: 'Interrupted (berth run)' }).catch((e) => term.err(`berth: ${(e as Error).message}\n`));
    } else {
      leave.abort();
    }
  };
  process.on('SIGINT', onInterrupt);
  try {
    let final: WireTask[];
    if (flags.output === 'json') {
      final = await waitStopped(api, cluster, started, leave.signal);
    } else {
      for (const t of started) term.err(`berth: started task ${lastSegment(t.taskArn)} (${taskDefinitionName(t.taskDefinitionArn)}) in cluster ${cluster}\n`);
      const shown = await showLogs(api, { cluster, target: { tasks: started.map((t) => t.taskArn) }, known: started, follow: true, write: (s) => term.out(s), signal: leave.signal });
      final = shown.tasks;
    }
    if (leave.signal.aborted) {
      term.err(`berth: left ${started.length === 1 ? 'the task' : 'the tasks'} running: ${started.map((t) => lastSegment(t.taskArn)).join(' ')}\n`);
      return INTERRUPTED;
    }
    const statuses = final.map((t) => exitStatusOf(t, td));
    if (flags.output === 'json') {
      term.out(JSON.stringify({ cluster, exitStatus: statuses.find((s) => s !== 0) ?? 0, tasks: describe(final) }, null, 2) + '\n');
    } else {
      for (const [i, t] of final.entries()) {
        if (statuses[i] !== 0) term.err(`berth: ${stoppedLine(t)}\n`);
        else if (final.length > 1) term.err(`berth: task ${lastSegment(t.taskArn)} exited 0\n`);
      }
    }
    return statuses.find((s) => s !== 0) ?? 0;
  } finally {
    process.off('SIGINT', onInterrupt);
  }
}
