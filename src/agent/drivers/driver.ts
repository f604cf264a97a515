/**
 * The driver interface (modelled on Nomad's task drivers): everything the task runner needs from
 * a container runtime, and nothing ECS-specific beyond the container spec. A driver is stateless
 * across agent restarts except for what it puts into a handle's `state`, which the caller persists
 * and hands back to `recover()` after a restart.
 */
import type { ContainerSpec, NetworkBinding } from '../types.js';

/** What a driver reports about itself and the host it runs on. */
export interface Fingerprint {
  name: string;
  available: boolean;
  /** Why it is not available, when it is not. */
  detail?: string;
  capabilities: {
    /** The memory hard limit is enforced (and OOM kills detected). */
    memoryLimit: boolean;
    /** Containers of one task can reach each other by link name / hostname. */
    links: boolean;
    /** The driver can run an isolated image (not just host binaries). */
    images: boolean;
    /** The driver mounts volumes into containers (ECS mountPoints / volumesFrom). */
    mounts: boolean;
  };
  cpus: number;
  /** Host memory in MiB. */
  memoryMiB: number;
}

/** What is started: one container of one task. */
export interface StartRequest {
  taskId: string;
  taskArn?: string;
  container: ContainerSpec;
  /** Extra names other containers of the task use for this one (from their `links`). */
  aliases?: string[];
  /**
   * The task has several containers that address each other, so they share a network of the
   * task's own (prepared by `prepareTask`). A lone container needs none (docker: the default
   * bridge, which is faster to start on).
   */
  taskNetwork?: boolean;
}

/**
 * A started container. JSON-serialisable: persist it as is and pass it to `recover()` after an
 * agent restart.
 */
export interface DriverHandle {
  driver: string;
  taskId: string;
  containerName: string;
  /** Docker container id, or the host pid as a string. */
  id: string;
  networkBindings: NetworkBinding[];
  /** Epoch ms. */
  startedAt: number;
  /** Driver-private data needed to find the container again. */
  state: Record<string, unknown>;
}

/** How a container ended. `code` is 128+signal when killed by a signal (as Docker reports). */
export interface ExitInfo {
  code: number;
  signal?: string;
  oomKilled: boolean;
  /** Epoch ms. */
  finishedAt: number;
  /** Set when the exit could not be observed (e.g. the container vanished while the agent was down). */
  unknown?: boolean;
}

/** Result of inspecting a live container. */
export interface InspectResult {
  running: boolean;
  pid?: number;
  id: string;
  /** Health as tracked by the engine, if it tracks it. */
  health?: 'starting' | 'healthy' | 'unhealthy';
  exit?: ExitInfo;
}

/** Result of `recover()`: the container still runs, or it is gone and this is how it ended. */
export type RecoverResult = { status: 'running'; handle: DriverHandle } | { status: 'exited'; handle: DriverHandle; exit: ExitInfo };

/**
 * A line of output from a container.
 *
 * `cursor` is the position just after this line in the container's output, opaque to everyone
 * but the driver that made it: `logs(h, onLine, { after: cursor })` resumes with exactly the
 * lines that follow this one, in the same order, none repeated and none skipped (two lines of
 * the same millisecond included), whichever driver instance reads (a restarted agent's too).
 * Re-reading from the same cursor yields the same lines with the same cursors. A cursor is a
 * short printable string, safe to persist as is.
 */
export interface DriverLogLine {
  stream: 'stdout' | 'stderr';
  /** Epoch ms. */
  timestamp: number;
  line: string;
  /** Where this line ends in the container's output (see above). */
  cursor: string;
}

/** Options of `Driver.logs`. */
export interface LogsOptions {
  /**
   * Resume strictly after this cursor (from a DriverLogLine of the same container). Absent, or
   * a string that is not one of this driver's cursors: from the first line.
   */
  after?: string;
  /** Fires once, after every line up to the container's exit has been delivered. */
  onEnd?: () => void;
}

/** Result of running a command inside (or, for the process driver, alongside) a container. */
export interface ExecResult {
  exitCode: number;
  output: string;
  timedOut: boolean;
}

/** A running container's resource use at one moment (`Driver.stats`). */
export interface ContainerStats {
  /** CPU time the container has used since it started, in ms (user + system, all its cores). */
  cpuTimeMs: number;
  /** Memory it uses now, in bytes (resident set; the page cache not counted). */
  memoryBytes: number;
}

/** A subscription that can be cancelled. */
export interface Subscription {
  close(): void;
}

/** Credentials for a registry, as docker's `X-Registry-Auth` carries them. */
export interface RegistryAuth {
  username: string;
  password: string;
  /** `host[:port]` of the registry. */
  serveraddress: string;
}

/** What a pull found: the image's manifest digest in its registry, when the driver knows it. */
export interface PullResult {
  digest?: string;
}

export interface Driver {
  readonly name: string;
  /**
   * The address the containers reach the agent's task role credentials endpoint at, when not the
   * host's loopback (docker: 169.254.170.2, the ECS address the AWS SDKs accept; see
   * ../taskCredentials.ts).
   */
  readonly credentialsAddress?: string;
  fingerprint(): Promise<Fingerprint>;
  /**
   * Makes sure the image is present: pulls it when missing, and always when credentials are
   * given for a reference by tag (the tag may have moved). No-op for drivers without images.
   */
  pullImage(image: string, auth?: RegistryAuth): Promise<PullResult>;
  /** Creates per-task resources (e.g. the task network, for tasks of several containers). Idempotent. */
  prepareTask(taskId: string): Promise<void>;
  /** Removes per-task resources (docker: the task's network and its task-scoped volumes). Idempotent. */
  cleanupTask(taskId: string): Promise<void>;
  /** Creates and starts the container; resolves once it runs, with the assigned host ports. */
  start(req: StartRequest): Promise<DriverHandle>;
  /**
   * Resolves when the container has exited (immediately if it already has). Aborting `signal`
   * only stops the waiting (rejects with an AbortError); the container is not touched.
   */
  wait(handle: DriverHandle, opts?: { signal?: AbortSignal }): Promise<ExitInfo>;
  /** SIGTERM, then SIGKILL after `timeoutMs`. Resolves once the container has exited. No-op if it already has. */
  stop(handle: DriverHandle, timeoutMs: number): Promise<void>;
  /** Removes every resource of the container (killing it if needed). Idempotent. */
  destroy(handle: DriverHandle): Promise<void>;
  inspect(handle: DriverHandle): Promise<InspectResult>;
  /** Finds a container again from a persisted handle (after an agent restart). */
  recover(handle: DriverHandle): Promise<RecoverResult>;
  /**
   * Streams output lines to `onLine`, in the order the container wrote them (per stream),
   * starting after `opts.after` or from the first line, and following until the container exits
   * or the subscription is closed: a quiet spell or a dropped connection to the runtime is not an
   * end. `onEnd` fires once everything up to the exit has been delivered. Works on a container
   * that has already exited (delivers what it wrote, then ends) until it is destroyed.
   */
  logs(handle: DriverHandle, onLine: (l: DriverLogLine) => void, opts?: LogsOptions): Subscription;
  /** Runs a command in the container's context (used for health checks). */
  exec(handle: DriverHandle, cmd: string[], timeoutMs: number): Promise<ExecResult>;
  /**
   * A problem with a running container worth showing its owner, in words (at most 255
   * characters), or undefined when there is none. The runner asks once the container's grace
   * period is over, then now and then until the answer is undefined, and reports the problem as
   * the container's reason; the task keeps running. The process driver: a mapped TCP host port
   * nothing listens on (its processes must listen where PORT / PORT_<containerPort> say).
   */
  diagnose?(handle: DriverHandle): Promise<string | undefined>;
  /**
   * The container's CPU time and memory now, or undefined when it is not running or the runtime
   * cannot say (the agent reports them with its poll, for ECS's CPUUtilization/MemoryUtilization).
   */
  stats?(handle: DriverHandle): Promise<ContainerStats | undefined>;
  /** Releases the driver's own connections when the agent stops; running containers are not touched. */
  close?(): void;
}

/** ECS's reason for a container killed by the memory limit. */
export const OOM_REASON = 'OutOfMemoryError: Container killed due to memory usage';

/** Signal number of a name, for exit codes 128+n. */
export const SIGNAL_NUMBERS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGABRT: 6, SIGKILL: 9, SIGSEGV: 11, SIGPIPE: 13, SIGALRM: 14, SIGTERM: 15 };
