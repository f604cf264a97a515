/**
 * Plain input/output types of the placement engine (./placement.ts) and the cluster query
 * language (./cql.ts). They mirror the fields of the ECS records (container instances, tasks)
 * but are deliberately independent of them, so the engine stays pure: the ECS domain and the
 * service controller map their records onto these shapes.
 *
 * All times are epoch milliseconds. Nothing here is mutated by the engine.
 */

// ---------------------------------------------------------------------------------------------
// Container instances and tasks (placement input)
// ---------------------------------------------------------------------------------------------

/** ECS container instance status values. Only ACTIVE instances receive new tasks. */
export type InstanceStatus = 'ACTIVE' | 'DRAINING' | 'INACTIVE' | 'REGISTERING' | 'DEREGISTERING' | 'REGISTRATION_FAILED';

/** Transport protocol of a host port. */
export type PortProtocol = 'tcp' | 'udp';

/** A host port in use or requested (ECS keeps TCP and UDP port sets apart: PORTS / PORTS_UDP). */
export interface HostPort {
  port: number;
  protocol?: PortProtocol; // default tcp
}

/**
 * A container instance as the scheduler sees it.
 * Invariant: `remaining*` never exceed `registered*`; `attributes` includes the built-in ones
 * (`ecs.availability-zone`, `ecs.instance-type`, `ecs.os-type`, ...) plus custom attributes; an
 * attribute without a value (e.g. `ecs.capability.*`) is present with value `null`.
 */
export interface ContainerInstanceView {
  /** Container instance id (the last ARN segment); what placement reports as the chosen instance. */
  id: string;
  arn: string;
  ec2InstanceId?: string;
  status: InstanceStatus | string;
  agentConnected: boolean;
  agentVersion?: string;
  /** Registration time (for `registeredAt` CQL comparisons). */
  registeredAt?: number;
  attributes: Readonly<Record<string, string | null>>;
  registeredCpu: number;
  registeredMemory: number;
  remainingCpu: number;
  remainingMemory: number;
  /** Host ports unavailable on the instance (reserved + used by tasks), like ECS remainingResources PORTS/PORTS_UDP. */
  usedPorts: readonly HostPort[];
  /** Tasks on the instance that are not STOPPED (for `runningTasksCount`). */
  runningTasksCount?: number;
}

/** A not-stopped task already on some instance; placement uses it for spread, distinctInstance and `task:group`. */
export interface ExistingTaskRef {
  containerInstanceId: string;
  /** Task group (`service:<name>` for service tasks, `family:<family>` by default for RunTask). */
  group?: string;
}

/** What one copy of the task needs. Dynamic host ports (hostPort 0 / absent) need no entry. */
export interface TaskRequirements {
  cpu: number;
  memory: number;
  hostPorts?: readonly HostPort[];
  /**
   * Task group; spread, distinctInstance and placed copies' `task:group` use it. Defaults to
   * `service:<serviceName>`, else `family:<family>` (see taskGroupOf).
   */
  group?: string;
  /**
   * Task definition `requiresAttributes` (name, optional value, optional targetType); instances
   * lacking one fail with ATTRIBUTE. Entries whose targetType is not `container-instance` are ignored.
   */
  requiredAttributes?: readonly RequiredAttribute[];
  family?: string;
  /** Service name when placing for a service (used in the "unable to place" event). */
  serviceName?: string;
}

/** One entry of a task definition's `requiresAttributes` (ECS Attribute shape). */
export interface RequiredAttribute {
  name: string;
  /** When given, the instance's attribute must have exactly this value. */
  value?: string | null;
  /** Only `container-instance` (the default) applies to placement. */
  targetType?: string;
}

/** ECS PlacementConstraint shape. */
export interface PlacementConstraintSpec {
  type?: 'distinctInstance' | 'memberOf' | string;
  expression?: string;
}

/** ECS PlacementStrategy shape. */
export interface PlacementStrategySpec {
  type?: 'random' | 'spread' | 'binpack' | string;
  field?: string;
}

/** Input of {@link place} (./placement.ts). */
export interface PlacementRequest {
  /** How many copies of the task to place. */
  count: number;
  task: TaskRequirements;
  /** Every container instance of the cluster (any status; ineligible ones produce failure reasons). */
  instances: readonly ContainerInstanceView[];
  /** Not-stopped tasks already in the cluster (any group; only the task's group counts for spread). */
  existingTasks?: readonly ExistingTaskRef[];
  constraints?: readonly PlacementConstraintSpec[];
  /** Applied in order: the first has priority, later ones break its ties. Empty = random. */
  strategy?: readonly PlacementStrategySpec[];
  /** Random source in [0,1) for `random` strategies; defaults to a PRNG seeded with `seed` (default 1). */
  random?: () => number;
  seed?: number;
}

/** ECS RunTask failure reasons for a container instance the task did not fit on. */
export type PlacementFailureReason =
  | 'AGENT'
  | 'ATTRIBUTE'
  | 'DistinctInstance'
  | 'MemberOf'
  | 'RESOURCE:CPU'
  | 'RESOURCE:MEMORY'
  | 'RESOURCE:PORTS'
  | 'RESOURCE:PORTS_UDP';

/** One chosen instance for one task copy. */
export interface Placement {
  containerInstanceId: string;
  containerInstanceArn: string;
}

/** ECS Failure shape for RunTask: one entry per instance that could not take the next task. */
export interface PlacementFailure {
  arn?: string;
  reason: PlacementFailureReason | string;
  detail?: string;
}

/** Result of {@link place}. `placements.length + unplaced === request.count`. */
export interface PlacementResult {
  placements: Placement[];
  unplaced: number;
  /** Why the first unplaced copy fit nowhere (empty when everything was placed). */
  failures: PlacementFailure[];
  /** The instance that came closest to fitting the first unplaced copy, and why it did not. */
  closest?: { containerInstanceId: string; reason: PlacementFailureReason };
  /** ECS service-event style explanation for the first unplaced copy (when unplaced > 0). */
  message?: string;
}
