/**
 * Says in the server's log what a person would otherwise only find in DescribeTasks and
 * DescribeContainerInstances: a task that failed to start (CannotPullContainerError, a missing
 * log group, a secret that cannot be read...) or whose essential container exited with an
 * error (one line per task, when it turns STOPPED), and a container instance whose agent went
 * away or came back. It follows the store's change feed and never writes.
 */
import type { Change, Store } from '../store/types.js';
import { KIND } from '../domain/ecs/keys.js';
import type { ContainerInstanceRecord, TaskRecord } from '../domain/ecs/records.js';

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

/** Follows task and instance changes from the store's current revision; returns the unsubscribe. */
export async function followTaskStops(store: Store, sink: TaskLogSink): Promise<() => void> {
  const said = new Set<string>();
  /** Whether each instance's agent was connected at its last change. */
  const connected = new Map<string, boolean>();
  const rev = await store.revision();
  for (const r of await store.list<ContainerInstanceRecord>(KIND.containerInstance)) connected.set(r.value.containerInstanceArn, r.value.agentConnected);
  return store.watch(rev, (c: Change) => {
    if (c.kind === KIND.containerInstance && c.value !== null) {
      const i = c.value as ContainerInstanceRecord;
      const was = connected.get(i.containerInstanceArn);
      connected.set(i.containerInstanceArn, i.agentConnected);
      if (was === true && !i.agentConnected) {
        sink(`container instance ${i.containerInstanceArn.split('/').pop()} (cluster ${i.clusterName}): its agent stopped polling${i.disconnectedAt ? ` (disconnected at ${new Date(i.disconnectedAt).toISOString()})` : ''}; its tasks count as lost if it does not come back`);
      } else if (was === false && i.agentConnected) {
        sink(`container instance ${i.containerInstanceArn.split('/').pop()} (cluster ${i.clusterName}): its agent is back`);
      }
      return;
    }
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
