/** Checks the ECS handlers share, with ECS's messages. */
import type * as ECS from '../../generated/ecs.js';
import { ecsErrors } from '../../domain/ecs/errors.js';

/** A List* call's maxResults: `dflt` when absent, else 1..`max` (InvalidParameterException otherwise). */
export function checkMaxResults(v: number | undefined, dflt: number, max = 100): number {
  const n = v ?? dflt;
  if (n < 1 || n > max) throw ecsErrors.invalidParameter(`maxResults must be between 1 and ${max}.`);
  return n;
}

/** A Describe* call's list of names: at least one, at most `max`. */
export function checkDescribeCount(list: readonly unknown[], what: string, max: number): void {
  if (list.length === 0) throw ecsErrors.invalidParameter(`${what} cannot be empty.`);
  if (list.length > max) throw ecsErrors.invalidParameter(`At most ${max} ${what.toLowerCase()} can be described at once.`);
}

/**
 * A launch type the task definition supports (its `compatibilities`, which ECS works out at
 * registration: EC2 always, FARGATE when it fits Fargate, EXTERNAL unless awsvpc), as RunTask,
 * CreateService and UpdateService check it: "Task definition does not support launch_type X."
 */
export function checkLaunchType(td: ECS.TaskDefinition, launchType: ECS.LaunchType | undefined): void {
  if (launchType === undefined) return;
  if (!(td.compatibilities ?? ['EC2']).includes(launchType)) throw ecsErrors.invalidParameter(`Task definition does not support launch_type ${launchType}.`);
}
