/**
 * Waiting for what an agent acts on to change: the tasks placed on its instance and the
 * instance's status. Its long poll reads the store revision, then what the agent must know,
 * then waits here for a change after that revision, so nothing between the read and the wait
 * is missed (a few changes may be seen twice: harmless).
 */
import { KIND, type Scope } from './keys.js';
import type { ContainerInstanceRecord, TaskRecord } from './records.js';

/** The store's revision now: read it before reading what a wait is about. */
export function currentRevision(s: Scope): Promise<number> {
  return s.platform.store.revision();
}

/**
 * Resolves after the next change after `fromRev` to a task placed on `instanceId` or to that
 * instance's status (other than `knownStatus`), after `ms` (a real-time bound on a network
 * wait), or when `signal` aborts. Heartbeats of this or other agents do not wake it.
 */
export function nextInstanceChange(s: Scope, instanceId: string, knownStatus: string, fromRev: number, ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    let stop: () => void = () => undefined;
    let finished = false;
    const done = () => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      stop();
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    stop = s.platform.store.watch(fromRev, (c) => {
      const matters =
        (c.kind === KIND.task && (c.value as TaskRecord | null)?.containerInstanceId === instanceId) ||
        (c.kind === KIND.containerInstance && (c.value as ContainerInstanceRecord | null)?.id === instanceId && (c.value as ContainerInstanceRecord).status !== knownStatus);
      if (matters) queueMicrotask(done);
    });
    if (finished) stop();
  });
}
