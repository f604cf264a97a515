/**
 * How the containers of one task depend on each other, for its TaskRunner (taskRunner.ts):
 * whether a container's `dependsOn` conditions (START, COMPLETE, SUCCESS, HEALTHY) let it start,
 * which running containers stop first (those no other running container depends on: the reverse
 * of the start order), and the aliases `links` give a container.
 */
import type { ContainerSpec, ContainerState } from './types.js';

/**
 * 'ok' to start, 'wait' to wait, or the reason the dependency can never be met. `containers` are
 * the task's container states, `started` says per container whether it ever ran.
 */
export function dependencyVerdict(c: ContainerSpec, containers: readonly ContainerState[], started: ReadonlyMap<string, { everRunning: boolean }>): string {
  for (const d of c.dependsOn ?? []) {
    const dep = containers.find((x) => x.name === d.containerName);
    const dl = started.get(d.containerName);
    if (!dep || !dl) return `DependencyError: container ${c.name} depends on unknown container ${d.containerName}`;
    const failed = `DependencyError: dependency condition ${d.condition} of container ${c.name} on ${d.containerName} was not met`;
    switch (d.condition) {
      case 'START':
        if (!dl.everRunning && dep.lastStatus !== 'STOPPED') return 'wait';
        if (!dl.everRunning) return failed;
        break;
      case 'COMPLETE':
        if (dep.lastStatus !== 'STOPPED') return 'wait';
        break;
      case 'SUCCESS':
        if (dep.lastStatus !== 'STOPPED') return 'wait';
        if (dep.exitCode !== 0) return failed;
        break;
      case 'HEALTHY':
        if (dep.healthStatus === 'HEALTHY') break;
        if (dep.healthStatus === 'UNHEALTHY' || dep.lastStatus === 'STOPPED') return failed;
        return 'wait';
    }
  }
  return 'ok';
}

/**
 * Of the running containers (name and spec), those to stop now: the ones no other running
 * container depends on; all of them when a dependency cycle leaves none.
 */
export function stopFirst<T extends { spec: ContainerSpec }>(running: Array<[string, T]>): Array<[string, T]> {
  const batch = running.filter(([n]) => !running.some(([, o]) => (o.spec.dependsOn ?? []).some((d) => d.containerName === n)));
  return batch.length === 0 ? running : batch; // a dependency cycle: stop everything
}

/** The aliases other containers of the task reach container `name` by (`links`: "name:alias"). */
export function linkAliases(containers: readonly ContainerSpec[], name: string): string[] {
  const out: string[] = [];
  for (const c of containers)
    for (const link of c.links ?? []) {
      const [target, alias] = link.split(':');
      if (target === name && alias) out.push(alias);
    }
  return out;
}
