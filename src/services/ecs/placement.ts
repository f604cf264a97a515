/**
 * Choosing a container instance for one task. Deliberately narrow: candidates and the task's
 * requirements in, a chosen candidate or per-candidate failure reasons out. The decision itself
 * is the scheduler's pure placement engine (`place` in src/control/placement.ts); this module
 * only maps ECS records onto it and its answer back.
 */
import type * as ECS from '../../generated/ecs.js';
import { place, PlacementValidationError, validatePlacement } from '../../control/placement.js';
import { CqlError, compileCql, type CqlInstance } from '../../control/cql.js';
import type { ContainerInstanceView } from '../../control/types.js';

/**
 * One container instance as placement sees it: the engine's instance view (remaining resources
 * = registered minus what live tasks reserve; usedPorts = ports taken) plus the groups of the
 * live tasks on it (for spread, distinctInstance and `task:group`).
 */
export interface PlacementCandidate extends ContainerInstanceView {
  taskGroups: string[];
}

/** What one task needs and how it may be placed. */
export interface TaskRequirements {
  cpu: number;
  memory: number;
  /** Static TCP / UDP host ports. */
  ports: number[];
  udpPorts: number[];
  /** `family:<family>` or `service:<name>`. */
  group: string;
  constraints: ECS.PlacementConstraint[];
  strategy: ECS.PlacementStrategy[];
  /** The task definition's `requiresAttributes`; instances lacking one fail with ATTRIBUTE. */
  requiredAttributes?: ECS.Attribute[];
}

export type PlacementResult =
  | { ok: true; candidate: PlacementCandidate }
  /** No candidate fits: one failure per candidate, with the reason ECS reports for it. */
  | { ok: false; failures: { arn?: string; reason: string }[] };

/** Validates a cluster query language expression; returns an error message or undefined. */
export function checkExpression(expr: string): string | undefined {
  try {
    compileCql(expr);
    return undefined;
  } catch (e) {
    if (e instanceof CqlError) return e.message;
    throw e;
  }
}

/** Checks placement constraints and strategies as ECS does; returns an error message or undefined. */
export function checkPlacement(constraints: ECS.PlacementConstraint[] = [], strategy: ECS.PlacementStrategy[] = []): string | undefined {
  try {
    validatePlacement(constraints, strategy);
    return undefined;
  } catch (e) {
    if (e instanceof PlacementValidationError) return e.message;
    throw e;
  }
}

/** Compiles a ListContainerInstances filter; throws an Error with a human message if invalid. */
export function compileFilter(expr: string): (inst: CqlInstance) => boolean {
  return compileCql(expr);
}

/**
 * Picks an instance for one task: ACTIVE instances with a connected agent that satisfy the
 * constraints and have the CPU, memory and host ports, ordered by the strategy (default
 * random, as RunTask). Failure reasons are ECS's (RESOURCE:MEMORY, AGENT, MemberOf, ...).
 */
export function placeTask(candidates: PlacementCandidate[], req: TaskRequirements): PlacementResult {
  let res;
  try {
    res = place({
      count: 1,
      task: {
        cpu: req.cpu,
        memory: req.memory,
        hostPorts: [...req.ports.map((port) => ({ port })), ...req.udpPorts.map((port) => ({ port, protocol: 'udp' as const }))],
        group: req.group,
        requiredAttributes: req.requiredAttributes,
      },
      instances: candidates,
      existingTasks: candidates.flatMap((c) => c.taskGroups.map((group) => ({ containerInstanceId: c.id, group }))),
      constraints: req.constraints,
      strategy: req.strategy,
      random: Math.random,
    });
  } catch (e) {
    if (e instanceof PlacementValidationError || e instanceof CqlError) return { ok: false, failures: [{ reason: e.message }] };
    throw e;
  }
  const chosen = res.placements[0];
  if (chosen) return { ok: true, candidate: candidates.find((c) => c.id === chosen.containerInstanceId)! };
  return { ok: false, failures: res.failures.map((f) => ({ arn: f.arn, reason: f.reason })) };
}
