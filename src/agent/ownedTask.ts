/**
 * One task owned by the agent: what happens between "the control plane placed this task here"
 * and the TaskRunner driving its containers. Resolves secrets (SSM) and log destinations first,
 * so a task whose parameters or log group are missing stops before any container starts, with
 * ECS's ResourceInitializationError; then runs the TaskRunner, forwards its state snapshots as
 * reports and its output lines to the log shipper, and persists the task for recovery after an
 * agent restart (`<state-dir>/tasks/<task id>.json`, secret values never written).
 *
 * Logs, exactly once: each line goes to the shipper with its container (the source) and driver
 * cursor; a recovered task reads each container on from the cursor the shipper has on record as
 * acknowledged by CloudWatch Logs (src/agent/logShipper.ts); a stopped task's containers are
 * removed only once their lines are shipped (or after DRAIN_WAIT_MS).
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Clock } from '../clock.js';
import { AwsApiError } from '../client/awsClient.js';
import type { ContainerStats, Driver, PullResult } from './drivers/driver.js';
import type { LogShipper } from './logShipper.js';
import type { LogDestination } from './logStream.js';
import { logDestinationFor } from './logNaming.js';
import { mergeReports, parseTaskSpec, type AgentContainerDefinition, type AgentTaskSpec, type TaskReport } from './protocol.js';
import { TaskRunner, type PersistedTask } from './taskRunner.js';
import type { ContainerSpec, LogLine, TaskSpec, TaskState } from './types.js';
import { writeAtomic } from './files.js';

/**
 * How long a stopped task waits for the shipper to have its last lines acknowledged before its
 * containers (and their output) are removed. Past it the lines are still shipped from memory, but
 * an agent crash before then loses them.
 */
export const DRAIN_WAIT_MS = 30_000;

/** A task the agent owns, from placement (or recovery) until it is STOPPED and cleaned up. */
export interface OwnedTask {
  readonly spec: AgentTaskSpec;
  /** Asks the task to stop (SIGTERM, then SIGKILL after stopTimeout). */
  stop(reason: string): void;
  /** Stops following the task without touching its containers (agent shutdown). */
  detach(): void;
  /** False once the task is STOPPED. */
  isActive(): boolean;
  /** Its containers' CPU time and memory now (TaskRunner.usage), undefined before they run. */
  usage(): Promise<ContainerStats | undefined>;
  /** Resolves when the task is STOPPED and cleaned up (or detached). */
  readonly done: Promise<void>;
}

/** What an owned task needs of the agent. */
export interface OwnedTaskDeps {
  driver: Driver;
  /** Directory of per-task state files. */
  stateDir: string;
  clock: Clock;
  shipper: LogShipper;
  resolveSecret: (valueFrom: string, spec: AgentTaskSpec) => Promise<string>;
  /** Variables every container of the task gets (the task role's credentials endpoint); a rejection fails the task. */
  taskEnvironment?: () => Promise<Record<string, string>>;
  /** Pulls an image of a task in `region` with the registry credentials it needs (default: the driver's, without). */
  pullImage?: (image: string, region: string) => Promise<PullResult>;
  report: (r: TaskReport, spec: AgentTaskSpec) => void;
  /** The task is STOPPED and cleaned up (or never started): with everything it reported, merged (its final state). */
  onDone: (spec: AgentTaskSpec, finalReport: TaskReport | undefined) => void;
  log: (msg: string) => void;
}

/** The task state file: the spec (as polled) and the runner's record once it has one. */
interface PersistedOwnedTask {
  spec: AgentTaskSpec;
  runner?: PersistedTask;
}

/** Maps a container of the spec (secrets already resolved into `env`) to the task runner's ContainerSpec. */
/**
 * The image a container runs: its definition's, or, when the control plane pinned a digest (a
 * service deployment's), the same repository at that digest (`repo@sha256:...`, the tag dropped).
 */
export function pinnedImage(image: string, digest: string | undefined): string {
  if (!digest || image.includes('@')) return image;
  const colon = image.lastIndexOf(':');
  return `${colon > image.lastIndexOf('/') ? image.slice(0, colon) : image}@${digest}`;
}

export function toContainerSpec(c: AgentContainerDefinition, env: Record<string, string>, networkMode: string, volumes: AgentTaskSpec['volumes'] = []): ContainerSpec {
  const byName = new Map((volumes ?? []).map((v) => [v.name, v]));
  return {
    name: c.name,
    image: pinnedImage(c.image, c.imageDigest),
    cpu: c.cpu,
    memory: c.memory,
    memoryReservation: c.memoryReservation,
    // A mapping without containerPort (ECS's containerPortRange) is not run by Berth.
    portMappings: (c.portMappings ?? []).flatMap((p) => (p.containerPort === undefined ? [] : [{ containerPort: p.containerPort, hostPort: p.hostPort, protocol: p.protocol ?? 'tcp' }])),
    essential: c.essential,
    entryPoint: c.entryPoint,
    command: c.command,
    workingDirectory: c.workingDirectory,
    environment: env,
    dockerLabels: c.dockerLabels,
    user: c.user,
    ulimits: c.ulimits,
    stopTimeout: c.stopTimeout,
    healthCheck: c.healthCheck,
    dependsOn: c.dependsOn?.map((d) => ({ containerName: d.containerName, condition: d.condition })),
    links: c.links,
    hostname: c.hostname,
    logConfiguration: c.logConfiguration,
    readonlyRootFilesystem: c.readonlyRootFilesystem,
    networkMode,
    // A mount of a volume the spec lacks (RegisterTaskDefinition does not let one through) mounts nothing Berth can: unsupported.
    mounts: c.mountPoints?.map((m) => ({ volume: byName.get(m.sourceVolume) ?? { name: m.sourceVolume, kind: 'unsupported' }, containerPath: m.containerPath, readOnly: m.readOnly })),
    volumesFrom: c.volumesFrom,
  };
}

/** The report for a runner snapshot (the runner's times are epoch ms). */
export function reportOf(s: TaskState): TaskReport {
  return {
    status: s.lastStatus,
    reason: s.stoppedReason,
    stopCode: s.stopCode,
    pullStartedAt: dateOf(s.pullStartedAt),
    pullStoppedAt: dateOf(s.pullStoppedAt),
    executionStoppedAt: dateOf(s.executionStoppedAt),
    containers: s.containers.map((c) => ({
      containerName: c.name,
      status: c.lastStatus,
      exitCode: c.exitCode,
      reason: c.reason,
      networkBindings: c.networkBindings.map((b) => ({ bindIP: b.bindIP, containerPort: b.containerPort, hostPort: b.hostPort, protocol: b.protocol })),
      runtimeId: c.runtimeId,
      imageDigest: c.imageDigest,
      healthStatus: c.healthStatus,
    })),
  };
}

function dateOf(ms: number | undefined): Date | undefined {
  return ms === undefined ? undefined : new Date(ms);
}

/** The one implementation of OwnedTask: owns the task's TaskRunner once secrets and log destinations are in place. */
class AgentOwnedTask implements OwnedTask {
  private runner: TaskRunner | undefined;
  private stopReason: string | undefined;
  private active = true;
  private detached = false;
  readonly done: Promise<void>;
  private readonly file: string;
  private readonly dests = new Map<string, LogDestination>();
  /** A record waiting to be written (see persistSoon). */
  private unpersisted: PersistedTask | undefined;
  /** After a restart: per container, the cursor of its last line CloudWatch Logs acknowledged. */
  private readonly ackedCursors: Record<string, string> = {};
  /** Everything reported (by this agent process), merged. */
  private reported: TaskReport | undefined;

  constructor(
    readonly spec: AgentTaskSpec,
    private readonly deps: OwnedTaskDeps,
    restored?: PersistedTask,
  ) {
    this.file = join(deps.stateDir, `${spec.taskId}.json`);
    for (const c of spec.containers) this.dests.set(c.name, logDestinationFor(c, spec));
    if (!restored) writeAtomic(this.file, JSON.stringify({ spec } satisfies PersistedOwnedTask));
    else {
      // Now, before anything is awaited: each container's output is read on from the last line
      // CloudWatch Logs acknowledged (the agent prunes the log state nobody restored).
      for (const dest of new Set(this.dests.values())) {
        for (const [source, cursor] of Object.entries(deps.shipper.restore(dest))) {
          if (this.dests.get(source) === dest) this.ackedCursors[source] = cursor;
        }
      }
    }
    this.done = this.run(restored).catch((e) => {
      this.deps.log(`task ${spec.taskId}: ${(e as Error).stack ?? e}`);
    });
  }

  stop(reason: string): void {
    this.stopReason ??= reason;
    this.runner?.stop({ stopCode: 'UserInitiated', reason });
  }

  detach(): void {
    this.persistNow();
    this.detached = true;
    this.runner?.detach();
  }

  isActive(): boolean {
    return this.active;
  }

  usage(): Promise<ContainerStats | undefined> {
    return this.runner && this.active ? this.runner.usage() : Promise.resolve(undefined);
  }

  /** Sends a report (through the agent's queue), keeping the merged state for the end. */
  private report(r: TaskReport): void {
    this.reported = mergeReports(this.reported, r);
    this.deps.report(r, this.spec);
  }

  private fail(reason: string): void {
    const now = this.deps.clock.now();
    this.report(
      {
        status: 'STOPPED',
        stopCode: 'TaskFailedToStart',
        reason,
        executionStoppedAt: new Date(now),
        containers: this.spec.containers.map((c) => ({ containerName: c.name, status: 'STOPPED', reason })),
      },
    );
  }

  /** Secrets and log destinations: everything that must hold before any container starts. */
  private async initialize(): Promise<Map<string, Record<string, string>> | undefined> {
    const envs = new Map<string, Record<string, string>>();
    let taskEnv: Record<string, string> | undefined;
    try {
      taskEnv = await this.deps.taskEnvironment?.();
    } catch (e) {
      this.fail(`ResourceInitializationError: unable to serve the task role's credentials: ${(e as Error).message}`);
      return undefined;
    }
    for (const c of this.spec.containers) {
      const env: Record<string, string> = {};
      for (const e of c.environment ?? []) if (e.name) env[e.name] = e.value ?? '';
      Object.assign(env, taskEnv);
      for (const s of c.secrets ?? []) {
        try {
          env[s.name] = await this.deps.resolveSecret(s.valueFrom, this.spec);
        } catch (e) {
          this.fail(`ResourceInitializationError: unable to pull secrets or registry auth: unable to retrieve secret '${s.name}' from ssm: ${(e as Error).message}`);
          return undefined;
        }
      }
      envs.set(c.name, env);
    }
    for (const dest of new Set(this.dests.values())) {
      try {
        await this.deps.shipper.prepare(dest);
      } catch (e) {
        if (e instanceof AwsApiError && e.code === 'ResourceNotFoundException') {
          this.fail(`ResourceInitializationError: failed to validate logger args: The specified log group does not exist: ${dest.group} (set awslogs-create-group to "true" or create it)`);
          return undefined;
        }
        // Unreachable control plane: the shipper keeps the lines and creates the stream later.
      }
    }
    return envs;
  }

  private async run(restored?: PersistedTask): Promise<void> {
    let runner: TaskRunner;
    const opts = {
      driver: this.deps.driver,
      clock: this.deps.clock,
      onStateChange: (s: TaskState) => this.report(reportOf(s)),
      onLog: (l: LogLine) => {
        const dest = this.dests.get(l.container);
        if (dest) this.deps.shipper.push(dest, { timestamp: l.timestamp, message: l.line, source: l.container, cursor: l.cursor });
      },
      onPersist: (rec: PersistedTask) => this.persistSoon(rec),
      beforeCleanup: () => this.deps.shipper.drained([...new Set(this.dests.values())], DRAIN_WAIT_MS),
      pullImage: this.deps.pullImage && ((image: string) => this.deps.pullImage!(image, this.spec.region)),
    };
    for (const [container, dest] of this.dests) {
      this.deps.shipper.setRereader(dest, container, (after) => this.runner?.rereadLogs(container, after));
    }
    if (restored) {
      await this.restoreSecrets(restored);
      runner = TaskRunner.resume({ ...opts, logCursors: this.ackedCursors }, restored);
    } else {
      this.report({ status: 'PENDING', pullStartedAt: new Date(this.deps.clock.now()) });
      const envs = await this.initialize();
      if (!envs) return this.finish();
      const task: TaskSpec = {
        id: this.spec.taskId,
        arn: this.spec.taskArn,
        family: this.spec.family,
        networkMode: this.spec.networkMode,
        desiredStatus: this.stopReason ? 'STOPPED' : 'RUNNING',
        containers: this.spec.containers.map((c) => toContainerSpec(c, envs.get(c.name) ?? {}, this.spec.networkMode, this.spec.volumes)),
      };
      runner = new TaskRunner({ ...opts, task });
    }
    this.runner = runner;
    if (this.stopReason) runner.stop({ stopCode: 'UserInitiated', reason: this.stopReason });
    const final = await runner.start();
    if (this.detached || final.lastStatus !== 'STOPPED') return;
    await this.deps.shipper.flush().catch(() => undefined);
    this.finish();
  }

  /** Secret values never go to disk: the persisted record keeps every variable but those. */
  private redact(rec: PersistedTask): PersistedTask {
    for (const c of rec.task.containers) {
      const secrets = this.spec.containers.find((d) => d.name === c.name)?.secrets ?? [];
      for (const sec of secrets) if (c.environment) delete c.environment[sec.name];
    }
    return rec;
  }

  /** After a restart, fetches the secrets again for containers that have yet to start. */
  private async restoreSecrets(rec: PersistedTask): Promise<void> {
    for (const c of rec.task.containers) {
      for (const sec of this.spec.containers.find((d) => d.name === c.name)?.secrets ?? []) {
        try {
          (c.environment ??= {})[sec.name] = await this.deps.resolveSecret(sec.valueFrom, this.spec);
        } catch (e) {
          // Running containers already have it; one that has not started yet would start without it.
          this.deps.log(`task ${this.spec.taskId}: could not fetch secret ${sec.name} again after restart: ${(e as Error).message}`);
        }
      }
    }
  }

  /**
   * Writes the newest record at the end of this turn of the event loop: the several changes of
   * one burst (container started, ACTIVATING, RUNNING) cost one file write, made in the same
   * turn as the burst's report is sent (and a detach writes what is pending first).
   */
  private persistSoon(rec: PersistedTask): void {
    const first = this.unpersisted === undefined;
    this.unpersisted = rec;
    if (first) setImmediate(() => this.persistNow());
  }

  private persistNow(): void {
    const rec = this.unpersisted;
    this.unpersisted = undefined;
    if (rec && !this.detached && this.active) writeAtomic(this.file, JSON.stringify({ spec: this.spec, runner: this.redact(rec) } satisfies PersistedOwnedTask));
  }

  private finish(): void {
    this.unpersisted = undefined;
    this.active = false;
    for (const d of this.dests.values()) this.deps.shipper.release(d);
    rmSync(this.file, { force: true });
    this.deps.onDone(this.spec, this.reported);
  }
}

/** Starts owning a newly placed task. */
export function startOwnedTask(spec: AgentTaskSpec, deps: OwnedTaskDeps): OwnedTask {
  return new AgentOwnedTask(spec, deps);
}

/**
 * Re-attaches to a task from its state file after an agent restart: running containers are
 * recovered (never restarted); a task that had not got as far as starting containers starts
 * now. Returns undefined for a missing file; throws, saying why, for a file whose spec does not
 * fit the agent channel's model (damaged, or written by an incompatible version).
 */
export async function recoverOwnedTask(file: string, deps: OwnedTaskDeps): Promise<OwnedTask | undefined> {
  if (!existsSync(file)) return undefined;
  const rec = JSON.parse(readFileSync(file, 'utf8')) as { spec?: unknown; runner?: PersistedTask };
  const spec = parseTaskSpec(rec?.spec);
  if (!spec.ok) throw new Error(`its task spec does not fit the agent channel's model: ${spec.problem}`);
  return new AgentOwnedTask(spec.value, deps, rec.runner);
}
