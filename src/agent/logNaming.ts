/**
 * Where a container's output goes in CloudWatch Logs. With `logConfiguration.logDriver =
 * awslogs`, as the awslogs driver names it: group `awslogs-group`, stream
 * `<awslogs-stream-prefix>/<container>/<task-id>` (or the task id alone without a prefix);
 * otherwise Berth's default: group `/berth/<cluster>`, stream `<family>/<container>/<task-id>`,
 * created as needed. Used by the agent to write and by `berth logs` to read.
 */
import type { AgentContainerDefinition } from './protocol.js';
import type { LogDestination } from './logStream.js';

/** The default log group of a cluster (same convention as the logs service). */
export function defaultLogGroup(cluster: string): string {
  return `/berth/${cluster}`;
}

export function logDestinationFor(container: Pick<AgentContainerDefinition, 'name' | 'logConfiguration'>, task: { taskId: string; cluster: string; family: string }): LogDestination {
  const lc = container.logConfiguration;
  if (lc?.logDriver === 'awslogs' && lc.options?.['awslogs-group']) {
    const prefix = lc.options['awslogs-stream-prefix'];
    return {
      group: lc.options['awslogs-group'],
      stream: prefix ? `${prefix}/${container.name}/${task.taskId}` : task.taskId,
      createGroup: lc.options['awslogs-create-group'] === 'true',
    };
  }
  return { group: defaultLogGroup(task.cluster), stream: `${task.family}/${container.name}/${task.taskId}`, createGroup: true };
}
