/**
 * Says in the server's log what a person would otherwise only find in DescribeTasks: a task
 * that failed to start (CannotPullContainerError, a missing log group, a secret that cannot be
 * read...) or whose essential container exited with an error. It follows the store's change
 * feed and never writes; one line per task, when it turns STOPPED.
 */
import type { Change, Store } from '../store/types.js';
import { KIND } from '../domain/ecs/keys.js';
import type { TaskRecord } from '../domain/ecs/records.js';

/** Where the lines go (the server log's warn). */
export type TaskLogSink = (message: string) => void;

/** The line for a task that just stopped badly, or undefined when it stopped as asked. */
export function taskStopLine(t: TaskRecord): string | undefined {
  if (t.lastStatus !== 'STOPPED') return undefined;
  const id = t.taskArn.split('/').pop()!;
  const td = t.taskDefinitionArn.split('/').pop()!;
  const who = `task ${id} (${td}${t.group ? `, ${t.group}` : ''})`;
  if (t.stopCode === 'TaskFailedToStart') return `${who} failed to start: ${t.stoppedReason ?? 'no reason given'}`;
  const failed = t.containers.filter((c) => c.reason || (c.exitCode !== undefined && c.exitCode !== 0));
  if (t.stopCode === 'EssentialContainerExited' && failed.length) {
    const detail = failed.map((c) => `${c.name}${c.exitCode !== undefined ? ` exited ${c.exitCode}` : ''}${c.reason ? ` (${c.reason})` : ''}`).join('; ');
    return `${who} stopped: ${detail}`;
  }
  return undefined;
}

/** Follows task changes from the store's current revision; returns the unsubscribe. */
export async function followTaskStops(store: Store, sink: TaskLogSink): Promise<() => void> {
  const said = new Set<string>();
  const rev = await store.revision();
  return store.watch(rev, (c: Change) => {
    if (c.kind !== KIND.task || c.value === null) return;
    const t = c.value as TaskRecord;
    if (t.lastStatus !== 'STOPPED') return;
    if (said.has(t.taskArn)) return;
    const line = taskStopLine(t);
    if (!line) return;
    said.add(t.taskArn);
    if (said.size > 10_000) said.clear();
    sink(line);
  });
}
