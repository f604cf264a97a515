/**
 * The task runner: the single owner of one task on one instance. It moves the task's known
 * status toward its desired status through the ECS lifecycle
 *   PROVISIONING -> PENDING -> ACTIVATING -> RUNNING -> DEACTIVATING -> STOPPING -> DEPROVISIONING -> STOPPED
 * using a Driver, and reports every change as a whole TaskState snapshot through `onStateChange`
 * (the agent forwards those to the control plane) and every output line through `onLog`.
 *
 * Invariants: statuses only move forward; each timestamp is set once; the first stop reason wins;
 * containers start in `dependsOn` order (START, COMPLETE, SUCCESS, HEALTHY) and stop in reverse
 * order (a container is stopped only after every running container depending on it); an essential
 * container's exit stops the task (EssentialContainerExited). Timestamps come from the injected
 * Clock; waiting (health check intervals, stop timeouts) uses real timers.
 *
 * Restart safety: `persisted()` returns a JSON-serialisable record (spec, state, driver handles,
 * the log cursor of the last line handed to `onLog` per container); `TaskRunner.resume()`
 * recovers the containers through `driver.recover()` (running ones are re-attached, never
 * restarted) and continues from where the task was. A recovered container's output is read on
 * from a cursor (`logCursors`, or the record's), whether it still runs or exited meanwhile, so
 * what it printed while nobody followed is delivered too.
 *
 * Here: the lifecycle's steps (pulls, starts in dependency order, exits, stops, clean-up) and
 * the containers' output. The state and its reports are in knownTaskState.ts, the dependency
 * rules in containerDependencies.ts, health checks and diagnoses in containerChecks.ts.
 */
import { systemClock, type Clock } from '../clock.js';
import { ContainerChecks, taskHealth, type CheckedContainer } from './containerChecks.js';
import { dependencyVerdict, linkAliases, stopFirst } from './containerDependencies.js';
import { OOM_REASON, type ContainerStats, type Driver, type DriverHandle, type ExitInfo, type PullResult, type RecoverResult, type Subscription } from './drivers/driver.js';
import { KnownTaskState, statusRank as rank } from './knownTaskState.js';
import type { LogLine, StopCode, TaskSpec, TaskState, TaskStatus } from './types.js';

/** ECS's reason for a task stopped because an essential container exited. */
export const ESSENTIAL_EXITED_REASON = 'Essential container in task exited';
/** Default seconds between SIGTERM and SIGKILL when a container has no stopTimeout (as ECS). */
export const DEFAULT_STOP_TIMEOUT_S = 30;

/** Options of a TaskRunner. */
export interface TaskRunnerOptions {
  task: TaskSpec;
  driver: Driver;
  clock?: Clock;
  /** Every change of the task's known state, as a snapshot (never mutated afterwards). */
  onStateChange?: (state: TaskState) => void;
  /** Every line of container output, with its driver cursor, in the order each container wrote it. */
  onLog?: (line: LogLine) => void;
  /**
   * On resume, where each container's output is read on from: strictly after this cursor (a
   * DriverLogLine cursor), from its first line when a container has none. Replaces the record's
   * own cursors (which only say what was handed to `onLog`): the agent passes the cursors of the
   * lines CloudWatch Logs acknowledged.
   */
  logCursors?: Record<string, string>;
  /**
   * Awaited once the task's containers have stopped and their last lines were delivered, before
   * they are destroyed (their output goes with them): the agent waits here, bounded, for the
   * lines to be shipped.
   */
  beforeCleanup?: () => Promise<void>;
  /** Called whenever the persisted record changes in a way that matters after a restart (handles, status). */
  onPersist?: (record: PersistedTask) => void;
  /** Overrides DEFAULT_STOP_TIMEOUT_S (seconds) for containers without stopTimeout. */
  defaultStopTimeoutS?: number;
  /** Grace before a running container is first diagnosed (Driver.diagnose) when its health check has no startPeriod (default DIAGNOSE_GRACE_MS, containerChecks.ts). */
  diagnoseGraceMs?: number;
  /**
   * Pulls an image in the agent's way (registry credentials, a failure explained); default the
   * driver's pullImage without credentials. Rejects with the reason the pull failed.
   */
  pullImage?: (image: string) => Promise<PullResult>;
}

/** What to keep across an agent restart (JSON-serialisable). */
export interface PersistedTask {
  task: TaskSpec;
  state: TaskState;
  handles: Record<string, DriverHandle>;
  /** Per container, the cursor of the last output line handed to `onLog` (as of this record). */
  logCursors: Record<string, string>;
}

/** A request to stop, with the reason reported to ECS. */
export interface StopRequest {
  stopCode?: StopCode;
  reason?: string;
}

/** The runner's record of one container (its checks' part: containerChecks.ts). */
interface Live extends CheckedContainer {
  exited?: Promise<void>;
  logs?: Subscription;
  /** Resolves once the container's output has been read to its end (one promise, across re-reads). */
  logsEnded?: Promise<void>;
  endLogs?: () => void;
  everRunning: boolean;
}

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

/** How long a stopped task waits for its containers' last output lines before removing them. */
const LOGS_END_WAIT_MS = 30_000;

/** Resolves when `p` does or after `ms`, whichever is first (the timer does not outlive it). */
function boundedWait(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise((r) => (timer = setTimeout(r, ms)))]).then(() => clearTimeout(timer));
}

/** Drives one task to its desired status. See the module comment. */
export class TaskRunner {
  private readonly driver: Driver;
  private readonly clock: Clock;
  private readonly opts: TaskRunnerOptions;
  private readonly task: TaskSpec;
  private readonly known: KnownTaskState;
  private readonly checks: ContainerChecks;
  private readonly live = new Map<string, Live>();
  /** The most CPU time each container was seen to have used, in ms (for `usage()`). */
  private readonly cpuTimeMs = new Map<string, number>();
  private readonly logCursors: Record<string, string> = {};
  private running?: Promise<TaskState>;
  private detached = false;
  private readonly abort = new AbortController();

  constructor(opts: TaskRunnerOptions, restored?: PersistedTask) {
    this.opts = opts;
    this.driver = opts.driver;
    this.clock = opts.clock ?? systemClock;
    this.task = clone(restored?.task ?? opts.task);
    for (const c of this.task.containers) this.live.set(c.name, { spec: c, healthFailures: 0, everRunning: false, handle: restored?.handles[c.name] });
    Object.assign(this.logCursors, restored ? (opts.logCursors ?? restored.logCursors ?? {}) : {});
    const state: TaskState = restored
      ? clone(restored.state)
      : {
          taskId: this.task.id,
          taskArn: this.task.arn,
          lastStatus: 'PROVISIONING',
          desiredStatus: this.task.desiredStatus,
          healthStatus: 'UNKNOWN',
          createdAt: this.clock.now(),
          containers: this.task.containers.map((c) => ({ name: c.name, image: c.image, lastStatus: 'PENDING', healthStatus: 'UNKNOWN', networkBindings: [], essential: c.essential !== false })),
        };
    this.known = new KnownTaskState(state, {
      clock: this.clock,
      onStateChange: opts.onStateChange,
      persist: () => this.opts.onPersist?.(this.persisted()),
      taskHealth: () => taskHealth(this.known.state.containers, this.live),
    });
    this.checks = new ContainerChecks({
      driver: this.driver,
      clock: this.clock,
      diagnoseGraceMs: opts.diagnoseGraceMs,
      isDetached: () => this.detached,
      live: (name) => this.live.get(name)!,
      state: (name) => this.known.container(name),
      emit: (persist) => this.known.emit(persist),
    });
    if (this.task.desiredStatus === 'STOPPED' && this.known.state.desiredStatus !== 'STOPPED') this.known.requestStop({ stopCode: 'UserInitiated', reason: 'Task stopped by user' });
  }

  /** Re-creates a runner after an agent restart from `persisted()` output; call `start()` on it. */
  static resume(opts: Omit<TaskRunnerOptions, 'task'>, record: PersistedTask): TaskRunner {
    return new TaskRunner({ ...opts, task: record.task }, record);
  }

  /** The current known state (a copy). */
  get state(): TaskState {
    return clone(this.known.state);
  }

  /** The record to persist for recovery after a restart. */
  persisted(): PersistedTask {
    const handles: Record<string, DriverHandle> = {};
    for (const [n, l] of this.live) if (l.handle) handles[n] = l.handle;
    return clone({ task: this.task, state: this.known.state, handles, logCursors: this.logCursors });
  }

  /** Starts driving the task (idempotent); resolves with the final state once STOPPED. */
  start(): Promise<TaskState> {
    this.running ??= this.run();
    return this.running;
  }

  /**
   * The task's resource use now: CPU time summed over its containers (a container that has
   * stopped keeps counting what it used, so the sum never goes down) and the memory of those that
   * run. Undefined when the driver cannot say, or no container of the task runs.
   */
  async usage(): Promise<ContainerStats | undefined> {
    if (!this.driver.stats || this.detached || this.known.state.lastStatus !== 'RUNNING') return undefined;
    let memoryBytes = 0;
    let running = 0;
    for (const [name, l] of this.live) {
      if (!l.handle || this.known.container(name).lastStatus !== 'RUNNING') continue;
      const s = await this.driver.stats(l.handle).catch(() => undefined);
      if (!s) continue;
      running++;
      memoryBytes += s.memoryBytes;
      this.cpuTimeMs.set(name, Math.max(this.cpuTimeMs.get(name) ?? 0, s.cpuTimeMs));
    }
    if (running === 0) return undefined;
    let cpuTimeMs = 0;
    for (const ms of this.cpuTimeMs.values()) cpuTimeMs += ms;
    return { cpuTimeMs, memoryBytes };
  }

  /** Sets the desired status to STOPPED (the first reason given wins). */
  stop(req: StopRequest = {}): void {
    this.known.requestStop({ stopCode: req.stopCode ?? 'UserInitiated', reason: req.reason ?? 'Task stopped by user' });
  }

  /**
   * Stops following the task without touching its containers (agent shutdown): log streams,
   * health checks and waits end; the containers keep running for a later `resume()`. The
   * promise from `start()` then resolves with the state as it was.
   */
  detach(): void {
    if (this.detached) return;
    this.detached = true;
    this.abort.abort();
    for (const l of this.live.values()) {
      l.logs?.close();
      l.logs = undefined;
      this.checks.stop(l);
    }
    this.known.notify();
  }

  /**
   * Reads a container's output again, strictly after `after` (from its first line when
   * undefined): the current reading is closed first, so no line comes twice from here. The log
   * shipper asks for it once a stream it had to stop taking lines for has drained.
   */
  rereadLogs(container: string, after: string | undefined): void {
    const l = this.live.get(container);
    if (!l?.handle || !l.logs || this.detached) return;
    if (after === undefined) delete this.logCursors[container];
    else this.logCursors[container] = after;
    this.followLogs(container, l.handle);
  }

  /** Resolves once the task's lastStatus has reached `status` (or passed it). */
  async waitFor(status: TaskStatus): Promise<TaskState> {
    while (rank(this.known.state.lastStatus) < rank(status)) await this.known.changed();
    return this.state;
  }

  // ---- internals ----

  private async run(): Promise<TaskState> {
    this.known.emit(true);
    try {
      await this.reattach();
      if (!this.known.stopWanted() && rank(this.known.state.lastStatus) < rank('DEACTIVATING')) {
        await this.provisionAndStart();
        if (!this.known.stopWanted()) {
          this.known.setStatus('ACTIVATING');
          this.known.setStatus('RUNNING');
          while (!this.known.stopWanted() && !this.detached) await this.known.changed();
        }
      }
    } catch (e) {
      if (!this.detached) this.known.requestStop({ stopCode: 'TaskFailedToStart', reason: `Task failed: ${(e as Error).message}` });
    }
    if (this.detached) return this.state;
    await this.stopAll();
    return this.state;
  }

  /** After a restart: recover every container that had a handle. */
  private async reattach(): Promise<void> {
    for (const [name, l] of this.live) {
      if (!l.handle) continue;
      if (this.known.container(name).lastStatus === 'STOPPED') {
        // Stopped before the restart, maybe with lines not yet delivered: read on to its end.
        this.followLogs(name, l.handle);
        continue;
      }
      // The runtime may itself still be coming up after a host restart: retry for a while.
      let r: RecoverResult | undefined;
      for (let attempt = 0; !r && !this.detached; attempt++) {
        try {
          r = await this.driver.recover(l.handle);
        } catch {
          if (attempt >= 9) r = { status: 'exited', handle: l.handle, exit: { code: -1, oomKilled: false, finishedAt: this.clock.now(), unknown: true } };
          else await new Promise((res) => setTimeout(res, Math.min(200 * 2 ** attempt, 2000)));
        }
      }
      if (!r) return;
      l.handle = r.handle;
      if (r.status === 'running') this.attach(name, r.handle);
      else {
        // It exited while nobody followed it: what it printed meanwhile is still to be read.
        this.followLogs(name, r.handle);
        this.recordExit(name, r.exit);
      }
    }
  }

  /** Containers of a multi-container task reach each other on a network of the task's own. */
  private sharesNetwork(): boolean {
    return this.task.containers.length > 1;
  }

  private async provisionAndStart(): Promise<void> {
    if (rank(this.known.state.lastStatus) <= rank('PROVISIONING')) {
      if (this.sharesNetwork()) await this.driver.prepareTask(this.task.id);
      this.known.setStatus('PENDING');
    }
    if (this.known.stopWanted()) return;
    if (this.known.state.pullStoppedAt === undefined) {
      this.known.state.pullStartedAt = this.clock.now();
      this.known.emit();
      for (const image of new Set(this.task.containers.map((c) => c.image))) {
        if (this.known.stopWanted()) return;
        try {
          const pulled = await (this.opts.pullImage ? this.opts.pullImage(image) : this.driver.pullImage(image));
          if (pulled.digest) for (const c of this.task.containers) if (c.image === image) this.known.container(c.name).imageDigest = pulled.digest;
        } catch (e) {
          const reason = `CannotPullContainerError: ${(e as Error).message}`;
          for (const c of this.task.containers) if (c.image === image) this.known.container(c.name).reason = reason;
          this.known.state.pullStoppedAt = this.clock.now();
          this.known.requestStop({ stopCode: 'TaskFailedToStart', reason });
          return;
        }
      }
      this.known.state.pullStoppedAt = this.clock.now();
      this.known.emit(true);
    }
    // Start containers as their dependencies allow.
    for (;;) {
      if (this.known.stopWanted() || this.detached) return;
      const pending = [...this.live.entries()].filter(([, l]) => !l.handle && this.known.container(l.spec.name).lastStatus === 'PENDING');
      if (pending.length === 0) return;
      let startedAny = false;
      for (const [name, l] of pending) {
        const verdict = dependencyVerdict(l.spec, this.known.state.containers, this.live);
        if (verdict === 'wait') continue;
        if (verdict !== 'ok') {
          this.known.container(name).reason = verdict;
          this.known.requestStop({ stopCode: 'TaskFailedToStart', reason: verdict });
          return;
        }
        await this.startContainer(name, l);
        startedAny = true;
        if (this.known.stopWanted()) return;
      }
      if (!startedAny) await this.known.changed();
    }
  }

  private async startContainer(name: string, l: Live): Promise<void> {
    const spec = { ...l.spec, networkMode: l.spec.networkMode ?? this.task.networkMode };
    try {
      l.handle = await this.driver.start({ taskId: this.task.id, taskArn: this.task.arn, container: spec, aliases: linkAliases(this.task.containers, name), taskNetwork: this.sharesNetwork() });
    } catch (e) {
      const reason = `CannotStartContainerError: ${(e as Error).message}`;
      const cs = this.known.container(name);
      cs.reason = reason;
      cs.lastStatus = 'STOPPED';
      this.known.requestStop({ stopCode: 'TaskFailedToStart', reason });
      return;
    }
    this.attach(name, l.handle);
  }

  /** Follows a started (or recovered) container: RUNNING state, logs, health checks, exit. */
  private attach(name: string, h: DriverHandle): void {
    const l = this.live.get(name)!;
    const cs = this.known.container(name);
    l.everRunning = true;
    l.startedAtMs = this.clock.now();
    cs.lastStatus = 'RUNNING';
    cs.runtimeId = h.id;
    cs.networkBindings = h.networkBindings;
    if (l.spec.healthCheck && cs.healthStatus !== 'HEALTHY' && cs.healthStatus !== 'UNHEALTHY') cs.healthStatus = 'UNKNOWN';
    this.followLogs(name, h);
    this.checks.start(name);
    l.exited = this.driver.wait(h, { signal: this.abort.signal }).then(
      (exit) => {
        if (!this.detached) this.recordExit(name, exit);
      },
      () => {
        if (!this.detached) this.recordExit(name, { code: -1, oomKilled: false, finishedAt: this.clock.now(), unknown: true });
      },
    );
    this.known.emit(true);
  }

  /** Reads a container's output from its cursor on, handing each line to onLog; `logsEnded` resolves at its end. */
  private followLogs(name: string, h: DriverHandle): void {
    const l = this.live.get(name)!;
    l.logs?.close();
    l.logsEnded ??= new Promise((r) => (l.endLogs = r));
    const ended = l.endLogs!;
    l.logs = this.driver.logs(
      h,
      (line) => {
        this.logCursors[name] = line.cursor;
        this.opts.onLog?.({ container: name, stream: line.stream, timestamp: line.timestamp, line: line.line, cursor: line.cursor });
      },
      { after: this.logCursors[name], onEnd: ended },
    );
  }

  private recordExit(name: string, exit: ExitInfo): void {
    const l = this.live.get(name)!;
    const cs = this.known.container(name);
    this.checks.stop(l);
    if (cs.diagnosis) {
      // What was wrong with the running container is no reason for its exit.
      cs.reason = '';
      cs.diagnosis = undefined;
    }
    cs.lastStatus = 'STOPPED';
    if (!exit.unknown) cs.exitCode = exit.code;
    if (exit.oomKilled) cs.reason = OOM_REASON;
    else if (exit.unknown && !cs.reason) cs.reason = 'The container could not be located when the agent recovered it';
    if (l.spec.essential !== false && !this.known.stopWanted()) this.known.requestStop({ stopCode: 'EssentialContainerExited', reason: ESSENTIAL_EXITED_REASON });
    this.known.emit(true);
  }

  /** DEACTIVATING -> STOPPING -> DEPROVISIONING -> STOPPED. */
  private async stopAll(): Promise<void> {
    if (this.known.state.lastStatus === 'STOPPED') return;
    if (!this.known.state.stopCode) this.known.requestStop({ stopCode: 'UserInitiated', reason: 'Task stopped' });
    this.known.setStatus('DEACTIVATING');
    this.known.setStatus('STOPPING');
    for (const [name, l] of this.live) {
      const cs = this.known.container(name);
      if (!l.handle && cs.lastStatus === 'PENDING') cs.lastStatus = 'STOPPED';
    }
    this.known.emit();
    for (;;) {
      const running = [...this.live.entries()].filter(([n, l]) => l.handle && this.known.container(n).lastStatus !== 'STOPPED');
      if (running.length === 0) break;
      await Promise.all(
        stopFirst(running).map(async ([, l]) => {
          const timeoutS = l.spec.stopTimeout ?? this.opts.defaultStopTimeoutS ?? DEFAULT_STOP_TIMEOUT_S;
          try {
            await this.driver.stop(l.handle!, timeoutS * 1000);
          } catch {
            /* fall through to wait */
          }
          await l.exited;
        }),
      );
    }
    this.known.state.executionStoppedAt ??= this.clock.now();
    this.known.emit(true);
    this.known.setStatus('DEPROVISIONING');
    // Deliver the last output lines before removing anything (bounded: a runtime that never ends a stream must not keep the task).
    await Promise.all([...this.live.values()].map((l) => (l.logsEnded ? boundedWait(l.logsEnded, LOGS_END_WAIT_MS) : undefined)));
    await this.opts.beforeCleanup?.().catch(() => undefined);
    for (const l of this.live.values()) {
      l.logs?.close();
      l.logs = undefined;
      this.checks.stop(l);
      if (l.handle) await this.driver.destroy(l.handle).catch(() => {});
    }
    await this.driver.cleanupTask(this.task.id).catch(() => {});
    this.known.setStatus('STOPPED');
  }
}
