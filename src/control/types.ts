/**
 * Plain input/output types of the service reconciler (./reconciler.ts): the service as desired,
 * its tasks as observed, and the actions that move one towards the other. They mirror the ECS
 * records but are independent of them, so `decide` stays pure; ./observe.ts maps the records
 * onto them and ./serviceController.ts applies the actions (through ./serviceActions.ts).
 *
 * All times are epoch milliseconds. Nothing here is mutated by the reconciler.
 */
import type { ContainerInstanceView, PlacementStrategySpec } from '../domain/placement/types.js';

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
  /** A circuit-breaker rollback deployment (the id it returned to): it is never rolled back again. */
  rollbackOf?: string;
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
  /**
   * How long an instance's agent may stay disconnected (see `InstanceFacts.disconnectedAt`)
   * before the tasks on it are lost: stopped and replaced elsewhere. Default 5 s.
   */
  instanceLostAfterMs?: number;
  /**
   * For a service without a load balancer whose task definitions have no container health check,
   * how long a task must stay RUNNING before it counts as healthy (so a task that exits at once
   * counts against the circuit breaker instead of completing the deployment). Default 0.
   */
  minHealthyRunningMs?: number;
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
  targetHealth?: TargetHealth;
  /** When the service deregistered this task's target to stop it (set when applying deregisterTarget). */
  drainStartedAt?: number;
  /** For a STOPPED task: why (a failure to start or an essential exit counts against the circuit breaker). */
  stopCode?: string;
  stoppedReason?: string;
}

/**
 * What the reconciler knows of a container instance of the service's cluster. A task whose
 * instance is missing from `ServiceObserved.instances` (when given) is on a lost instance.
 */
export interface InstanceFacts extends Pick<ContainerInstanceView, 'attributes' | 'remainingCpu' | 'remainingMemory'> {
  /** ACTIVE, DRAINING, INACTIVE...; default ACTIVE. */
  status?: string;
  /** Default true. */
  agentConnected?: boolean;
  /** When the agent was marked disconnected (absent: unknown, counts as long ago). */
  disconnectedAt?: number;
}

/** What the service's tasks look like right now. */
export interface ServiceObserved {
  /** The service's tasks: live ones, and STOPPED ones (which count towards failedTasks). */
  tasks: readonly ObservedTask[];
  /** Target-group deregistration delay (seconds; the largest of the service's target groups). Default 300. */
  deregistrationDelaySeconds?: number;
  /**
   * Facts about the instances of the cluster (by container instance id): whether they are lost
   * or DRAINING, and where tasks stop first on scale-in. Absent: every instance is ACTIVE.
   */
  instances?: Readonly<Record<string, InstanceFacts>>;
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
  /** A task on a lost instance: nobody is left to report it, so it is marked STOPPED at once. */
  | { type: 'markTaskStopped'; taskId: string; reason: string }
  /** The circuit breaker's counter of an IN_PROGRESS deployment rises to `failedTasks`. */
  | { type: 'setFailedTasks'; deploymentId: string; failedTasks: number }
  | { type: 'registerTarget'; taskId: string }
  | { type: 'deregisterTarget'; taskId: string }
  | { type: 'markDeploymentCompleted'; deploymentId: string }
  | { type: 'markDeploymentFailed'; deploymentId: string; reason: string }
  | { type: 'rollback'; fromDeploymentId: string; toDeploymentId: string }
  | { type: 'setRunningCounts'; runningCount: number; pendingCount: number; deployments: { deploymentId: string; runningCount: number; pendingCount: number }[] }
  | { type: 'setSteadyState'; steady: boolean }
  | { type: 'markServiceInactive' }
  | { type: 'event'; message: string };
