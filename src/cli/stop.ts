/**
 * `berth stop`: `berth stop <task-id>... [--reason TEXT]` stops tasks (StopTask) and waits until
 * they have stopped; `berth stop --service NAME` scales a service to 0 (UpdateService
 * desiredCount 0: its tasks are drained from their target groups, then stopped) and waits until
 * none runs. `--no-wait` returns once asked.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { AwsApiError } from '../client/awsClient.js';
import type { BerthApi, WireTask } from './api.js';
import { UsageError } from './connect.js';
import { isoTime, lastSegment, plural } from './format.js';
import { looksLikeTask, stopSummary } from './logs.js';
import type { Terminal } from './terminal.js';

/** How often the stop is looked at while waiting. */
const STOP_POLL_MS = 500;

/** The flags of `berth stop`. */
export interface StopFlags {
  cluster: string;
  service?: string;
  reason?: string;
  wait: boolean;
  output: 'text' | 'json';
}

/** `berth stop`: resolves with the exit status. */
export async function stopCommand(api: BerthApi, taskIds: string[], flags: StopFlags, term: Terminal): Promise<number> {
  if (flags.service !== undefined && taskIds.length) throw new UsageError('berth stop takes task ids or --service, not both.');
  if (flags.service === undefined && !taskIds.length) throw new UsageError('berth stop needs task ids, or --service NAME to scale a service to 0.');
  if (flags.service !== undefined) return stopService(api, flags.service, flags, term);
  for (const id of taskIds) if (!looksLikeTask(id)) throw new UsageError(`'${id}' is not a task id (32 hex digits) or task ARN; to stop a service use --service ${id}.`);
  const json = flags.output === 'json';
  const asked: WireTask[] = [];
  for (const id of taskIds) {
    const out = await api.ecs<{ task: WireTask }>('StopTask', { cluster: flags.cluster, task: id, reason: flags.reason });
    asked.push(out.task);
    if (!json && !flags.wait) term.out(`${lastSegment(out.task.taskArn)}: stopping\n`);
  }
  let tasks = asked;
  if (flags.wait) {
    const reported = new Set<string>();
    for (;;) {
      tasks = await api.tasks(flags.cluster, asked.map((t) => t.taskArn));
      for (const t of tasks) {
        if (t.lastStatus !== 'STOPPED' || reported.has(t.taskArn)) continue;
        reported.add(t.taskArn);
        if (!json) term.out(`${lastSegment(t.taskArn)}: ${stopSummary(t)}\n`);
      }
      if (tasks.every((t) => t.lastStatus === 'STOPPED')) break;
      await sleep(STOP_POLL_MS);
    }
  }
  if (json) {
    term.out(
      JSON.stringify(
        { cluster: flags.cluster, tasks: tasks.map((t) => ({ id: lastSegment(t.taskArn), arn: t.taskArn, lastStatus: t.lastStatus, desiredStatus: t.desiredStatus, stopCode: t.stopCode, stoppedReason: t.stoppedReason, stoppedAt: isoTime(t.stoppedAt), containers: (t.containers ?? []).map((c) => ({ name: c.name, exitCode: c.exitCode })) })) },
        null,
        2,
      ) + '\n',
    );
  }
  return 0;
}

async function stopService(api: BerthApi, name: string, flags: StopFlags, term: Terminal): Promise<number> {
  if (flags.reason !== undefined) throw new UsageError('--reason is for tasks; a service scaled to 0 stops its tasks as a scaling activity.');
  const json = flags.output === 'json';
  const before = await api.service(flags.cluster, name);
  if (before.schedulingStrategy === 'DAEMON') throw new AwsApiError('InvalidParameterException', `${name} is a DAEMON service: it runs one task per instance and cannot be scaled to 0 (delete it instead).`, 400);
  await api.ecs('UpdateService', { cluster: flags.cluster, service: name, desiredCount: 0 });
  if (!json) term.out(`${name}: desired count ${before.desiredCount ?? 0} → 0${flags.wait ? '; waiting for its tasks to stop' : ''}\n`);
  let svc = before;
  if (flags.wait) {
    let said = '';
    for (;;) {
      svc = await api.service(flags.cluster, name);
      const live = svc.runningCount ?? 0;
      const pending = svc.pendingCount ?? 0;
      const now = `${name}: ${plural(live, 'task')} running${pending ? `, ${pending} pending` : ''}`;
      if (!json && now !== said && live + pending > 0) term.out(`${now}\n`);
      said = now;
      if (live + pending === 0) break;
      await sleep(STOP_POLL_MS);
    }
    if (!json) term.out(`${name}: stopped (no task running)\n`);
  }
  if (json) term.out(JSON.stringify({ cluster: flags.cluster, service: name, previousDesiredCount: before.desiredCount ?? 0, desiredCount: 0, runningCount: svc.runningCount ?? 0, pendingCount: svc.pendingCount ?? 0 }, null, 2) + '\n');
  return 0;
}
