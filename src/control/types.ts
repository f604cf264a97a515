/**
 * Plain input/output types of Berth's scheduling and service-control decision core
 * (src/control/). They mirror the fields of the ECS records (container instances, tasks,
 * services, deployments) but are deliberately independent of src/services/, so the core stays
 * pure and the ECS handlers / controllers map their records onto these shapes.
 *
 * All times are epoch milliseconds. Nothing here is mutated by the core.
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

/** Input of {@link place} (src/control/placement.ts). */
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

// ---------------------------------------------------------------------------------------------
// Services (reconciler input/output)
// ---------------------------------------------------------------------------------------------

/** ECS deployment rollout states. */
export type RolloutState = 'IN_PROGRESS' | 'COMPLETED' | 'FAILED';

/** A deployment of the service (ECS Deployment record). */
export interface DeploymentView {
  /** `ecs-svc/<digits>` */
  id: string;
  /** PRIMARY = the one being rolled out / kept; ACTIVE = older ones that still may have tasks. */
  status: 'PRIMARY' | 'ACTIVE' | 'INACTIVE';
  taskDefinition: string;
  /** Whether the task definition defines container health checks. */
  hasHealthCheck?: boolean;
  rolloutState: RolloutState;
  createdAt: number;
  /** Tasks of this deployment that failed (stopped before RUNNING or failed health checks). */
  failedTasks: number;
  /** Last counts written back through `setRunningCounts` (so the action is only emitted on change). */
  runningCount?: number;
  pendingCount?: number;
}

/** The service as desired (ECS Service record, the parts the reconciler needs). */
export interface ServiceDesired {
  serviceName: string;
  /** ACTIVE, or DRAINING after DeleteService (everything is drained and stopped). */
  status: 'ACTIVE' | 'DRAINING' | 'INACTIVE' | string;
  desiredCount: number;
  deployments: readonly DeploymentView[];
  /** Default 100. */
  minimumHealthyPercent?: number;
  /** Default 200. */
  maximumPercent?: number;
  circuitBreaker?: { enable: boolean; rollback: boolean };
  healthCheckGracePeriodSeconds?: number;
  /** Target groups of the service's load balancers (empty/absent = no load balancer). */
  targetGroupArns?: readonly string[];
  /** Last steady-state flag written back through `setSteadyState`. */
  steady?: boolean;
  /** The service's placement strategy; also decides which tasks stop first on scale-in. */
  placementStrategy?: readonly PlacementStrategySpec[];
  /**
   * REPLICA (default) keeps `desiredCount` tasks; DAEMON keeps exactly one task on each instance
   * of `observed.daemonInstances` (and `desiredCount` is ignored: it is their number).
   */
  schedulingStrategy?: 'REPLICA' | 'DAEMON' | string;
}

/**
 * An instance a DAEMON service must run on (ACTIVE, not lost, meets the service's placement
 * constraints and the task definition's required attributes; see `daemonInstances` in placement.ts).
 */
export interface DaemonInstance {
  id: string;
  /** New tasks are only started while the agent is connected (a task already there is kept). */
  agentConnected: boolean;
  /**
   * The instance is DRAINING but other (replica) tasks are still on it: the daemon task stays
   * until they are gone (ECS stops daemon tasks last); none is started and it is not counted.
   */
  draining?: boolean;
}

/** Target health of a task's target in the service's target group(s); `none` = not registered. */
export type TargetHealth = 'initial' | 'healthy' | 'unhealthy' | 'draining' | 'unused' | 'none';

/** A task of the service as observed (ECS Task record + instance and target-group facts). */
export interface ObservedTask {
  taskId: string;
  deploymentId: string;
  lastStatus: string; // PROVISIONING | PENDING | ACTIVATING | RUNNING | DEACTIVATING | STOPPING | DEPROVISIONING | STOPPED
  desiredStatus: 'RUNNING' | 'STOPPED' | string;
  /** Container health (task healthStatus). */
  healthStatus?: 'HEALTHY' | 'UNHEALTHY' | 'UNKNOWN';
  startedAt?: number;
  createdAt?: number;
  containerInstanceId?: string;
  /** The task's instance lost its agent (disconnected past the timeout) or is gone. */
  instanceLost?: boolean;
  /** The task's instance is DRAINING. */
  instanceDraining?: boolean;
  targetHealth?: TargetHealth;
  /** When the service deregistered this task's target to stop it (set when applying deregisterTarget). */
  drainStartedAt?: number;
}

/** What the service's tasks look like right now. */
export interface ServiceObserved {
  tasks: readonly ObservedTask[];
  /** Target-group deregistration delay (seconds; the largest of the service's target groups). Default 300. */
  deregistrationDelaySeconds?: number;
  /** Facts about the instances the tasks run on (by container instance id), for strategy-aware scale-in. */
  instances?: Readonly<Record<string, Pick<ContainerInstanceView, 'attributes' | 'remainingCpu' | 'remainingMemory'>>>;
  /** DAEMON services: the instances that must each run one task (see {@link DaemonInstance}). */
  daemonInstances?: readonly DaemonInstance[];
}

/**
 * An action the controller applies after {@link decide}. Each is idempotent given the next
 * observation: once applied, the next `decide` does not repeat it (see src/control/README.md).
 */
export type ReconcileAction =
  /** `containerInstanceIds` (DAEMON): start one task on each of these instances (count = their number). */
  | { type: 'startTasks'; deploymentId: string; count: number; containerInstanceIds?: string[] }
  /** DAEMON: the service's (and PRIMARY deployment's) desiredCount becomes the number of daemon instances. */
  | { type: 'setDesiredCount'; desiredCount: number }
  | { type: 'stopTask'; taskId: string; reason: string }
  | { type: 'registerTarget'; taskId: string }
  | { type: 'deregisterTarget'; taskId: string }
  | { type: 'markDeploymentCompleted'; deploymentId: string }
  | { type: 'markDeploymentFailed'; deploymentId: string; reason: string }
  | { type: 'rollback'; fromDeploymentId: string; toDeploymentId: string }
  | { type: 'setRunningCounts'; runningCount: number; pendingCount: number; deployments: { deploymentId: string; runningCount: number; pendingCount: number }[] }
  | { type: 'setSteadyState'; steady: boolean }
  | { type: 'markServiceInactive' }
  | { type: 'event'; message: string };
