/**
 * Plain input/output types of the agent's runtime layer. They mirror the fields of an ECS
 * container definition that the runtime needs, so the runtime never depends on the ECS service
 * modules: the caller (the `berth agent` process) maps its records into these shapes, with
 * secrets and parameters already resolved into `environment`.
 */

/** One port mapping of a container. `hostPort` 0 or absent means "Berth picks a free port in 49153-65535". */
export interface PortMapping {
  containerPort: number;
  hostPort?: number;
  protocol?: 'tcp' | 'udp';
}

/** A port actually bound on the host, as reported back to ECS (`networkBindings`). */
export interface NetworkBinding {
  bindIP: string;
  containerPort: number;
  hostPort: number;
  protocol: 'tcp' | 'udp';
}

/** ECS container health check. Times are in seconds, as in the ECS API. */
export interface HealthCheck {
  /** ["CMD", exe, ...args] or ["CMD-SHELL", "shell command"]. */
  command: string[];
  interval?: number;
  timeout?: number;
  retries?: number;
  startPeriod?: number;
}

/** ECS `dependsOn` entry. */
export interface ContainerDependency {
  containerName: string;
  condition: 'START' | 'COMPLETE' | 'SUCCESS' | 'HEALTHY';
}

/** ECS ulimit. */
export interface Ulimit {
  name: string;
  softLimit: number;
  hardLimit: number;
}

/**
 * A volume of a task (ECS `volumes`), as the runtime mounts it:
 * - `bind`: the host path `sourcePath` (ECS `host.sourcePath`);
 * - `docker`: a docker volume (ECS `dockerVolumeConfiguration`): scope `task` lives and goes with
 *   the task, scope `shared` outlives it (created when missing only with `autoprovision`);
 * - `task`: an empty volume of the task's own (ECS: a volume with neither), gone with the task;
 * - `unsupported`: a kind Berth does not mount (EFS, FSx): a container mounting it cannot start.
 */
export interface VolumeSpec {
  name: string;
  kind: 'bind' | 'docker' | 'task' | 'unsupported';
  sourcePath?: string;
  docker?: { scope: 'task' | 'shared'; autoprovision?: boolean; driver: string; labels?: Record<string, string>; driverOpts?: Record<string, string> };
}

/** A volume mounted into a container (ECS `mountPoints`, its volume resolved). */
export interface MountSpec {
  volume: VolumeSpec;
  containerPath: string;
  readOnly?: boolean;
}

/**
 * What the runtime needs of one container definition. Memory values are MiB, cpu is CPU units
 * (1024 = one core), stopTimeout is seconds, as in ECS.
 */
export interface ContainerSpec {
  name: string;
  image: string;
  cpu?: number;
  memory?: number;
  memoryReservation?: number;
  portMappings?: PortMapping[];
  /** Defaults to true, as in ECS. */
  essential?: boolean;
  entryPoint?: string[];
  command?: string[];
  workingDirectory?: string;
  /** Already resolved (secrets included). */
  environment?: Record<string, string>;
  dockerLabels?: Record<string, string>;
  user?: string;
  ulimits?: Ulimit[];
  stopTimeout?: number;
  healthCheck?: HealthCheck;
  dependsOn?: ContainerDependency[];
  /** "name" or "name:alias" of other containers of the task. */
  links?: string[];
  hostname?: string;
  logConfiguration?: { logDriver: string; options?: Record<string, string> };
  readonlyRootFilesystem?: boolean;
  /** The task's network mode (bridge, host, awsvpc, none); copied onto each container for the driver. */
  networkMode?: string;
  /** Volumes mounted into the container (ECS `mountPoints`). */
  mounts?: MountSpec[];
  /** Other containers of the task whose mounts this one gets too (ECS `volumesFrom`). */
  volumesFrom?: Array<{ sourceContainer: string; readOnly?: boolean }>;
}

/** A task as handed to the runner. */
export interface TaskSpec {
  /** Unique id (the task id part of the ARN); used to name runtime resources. */
  id: string;
  arn?: string;
  family?: string;
  networkMode?: string;
  containers: ContainerSpec[];
  desiredStatus: 'RUNNING' | 'STOPPED';
}

/** ECS task lifecycle statuses, in order. */
export const TASK_STATUSES = ['PROVISIONING', 'PENDING', 'ACTIVATING', 'RUNNING', 'DEACTIVATING', 'STOPPING', 'DEPROVISIONING', 'STOPPED'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

/** ECS container statuses. */
export type ContainerStatus = 'PENDING' | 'RUNNING' | 'STOPPED';
export type HealthStatus = 'UNKNOWN' | 'HEALTHY' | 'UNHEALTHY';
export type StopCode = 'TaskFailedToStart' | 'EssentialContainerExited' | 'UserInitiated' | 'ServiceSchedulerInitiated' | 'SpotInterruption' | 'TerminationNotice';

/** The known state of one container, as reported to the control plane. */
export interface ContainerState {
  name: string;
  image: string;
  lastStatus: ContainerStatus;
  exitCode?: number;
  reason?: string;
  healthStatus: HealthStatus;
  networkBindings: NetworkBinding[];
  /** Docker container id or host pid. */
  runtimeId?: string;
  /** The manifest digest of the image pulled for it, when the registry said. */
  imageDigest?: string;
  essential: boolean;
  /**
   * Set while `reason` is the driver's diagnosis of the running container (Driver.diagnose),
   * which the runner clears (reason '') once it no longer applies. Not reported.
   */
  diagnosis?: boolean;
}

/** The known state of a task; every change is emitted whole (a snapshot) through the runner's callback. */
export interface TaskState {
  taskId: string;
  taskArn?: string;
  lastStatus: TaskStatus;
  desiredStatus: 'RUNNING' | 'STOPPED';
  healthStatus: HealthStatus;
  containers: ContainerState[];
  stopCode?: StopCode;
  stoppedReason?: string;
  /** Epoch milliseconds. */
  createdAt: number;
  pullStartedAt?: number;
  pullStoppedAt?: number;
  startedAt?: number;
  stoppingAt?: number;
  executionStoppedAt?: number;
  stoppedAt?: number;
}

/**
 * One line of container output. `timestamp` is epoch ms when the line was produced; `cursor` is
 * the driver's position just after it (see DriverLogLine in ./drivers/driver.ts).
 */
export interface LogLine {
  container: string;
  stream: 'stdout' | 'stderr';
  timestamp: number;
  line: string;
  cursor: string;
}
