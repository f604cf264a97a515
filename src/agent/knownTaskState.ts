/**
 * A task's known state as its TaskRunner (taskRunner.ts) keeps and reports it: the status moves
 * only forward through the ECS lifecycle, each of its timestamps is set once, the first stop
 * reason wins, and every change goes out as a whole TaskState snapshot (`onStateChange`), once
 * per change; a status change also asks for the task's record to be persisted. Whoever waits for
 * a change (`changed()`) is woken by each report.
 */
import type { Clock } from '../clock.js';
import { TASK_STATUSES, type ContainerState, type HealthStatus, type StopCode, type TaskState, type TaskStatus } from './types.js';

/** A status's place in the lifecycle (PROVISIONING first, STOPPED last). */
export const statusRank = (s: TaskStatus) => TASK_STATUSES.indexOf(s);

/** What the known state reports to, and asks of, its runner. */
export interface KnownTaskStateHooks {
  clock: Clock;
  /** Every change of the state, as a snapshot (never mutated afterwards). */
  onStateChange?: (state: TaskState) => void;
  /** The task's record is to be persisted (after a status change, or when a report asks). */
  persist: () => void;
  /** The task's health from its containers', set on each report. */
  taskHealth: () => HealthStatus;
}

/** A task's state, changed in place by its runner and reported through `emit`. */
export class KnownTaskState {
  private lastEmitted = '';
  private waiters: Array<() => void> = [];

  constructor(
    /** The state itself, changed in place (reported by the next `emit`). */
    readonly state: TaskState,
    private readonly hooks: KnownTaskStateHooks,
  ) {}

  /** The state of one of the task's containers (changed in place too). */
  container(name: string): ContainerState {
    return this.state.containers.find((c) => c.name === name)!;
  }

  /** True once the task is to stop. */
  stopWanted(): boolean {
    return this.state.desiredStatus === 'STOPPED';
  }

  /** Sets the desired status to STOPPED; the first stop code and reason stay. */
  requestStop(r: { stopCode: StopCode; reason: string }): void {
    if (this.state.desiredStatus !== 'STOPPED') this.state.desiredStatus = 'STOPPED';
    if (!this.state.stopCode) {
      this.state.stopCode = r.stopCode;
      this.state.stoppedReason = r.reason;
    }
    this.emit();
  }

  /** Resolves at the next report (or `notify`). */
  changed(): Promise<void> {
    return new Promise((r) => this.waiters.push(r));
  }

  /** Wakes whoever waits in `changed()`. */
  notify(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const r of w) r();
  }

  /** Reports the state if it changed (persisting on a status change, or when `persist`), then wakes the waiters. */
  emit(persist = false): void {
    this.state.healthStatus = this.hooks.taskHealth();
    const snap = JSON.stringify(this.state);
    if (snap !== this.lastEmitted) {
      const statusChanged = this.lastEmitted === '' || (JSON.parse(this.lastEmitted) as TaskState).lastStatus !== this.state.lastStatus;
      this.lastEmitted = snap;
      this.hooks.onStateChange?.(JSON.parse(snap) as TaskState);
      if (statusChanged) persist = true;
    }
    if (persist) this.hooks.persist();
    this.notify();
  }

  /** Moves lastStatus forward to `s` (never back), setting the timestamp it comes with once. */
  setStatus(s: TaskStatus): void {
    if (statusRank(s) <= statusRank(this.state.lastStatus)) return;
    this.state.lastStatus = s;
    const now = this.hooks.clock.now();
    if (s === 'RUNNING') this.state.startedAt ??= now;
    if (s === 'STOPPING') this.state.stoppingAt ??= now;
    if (s === 'STOPPED') this.state.stoppedAt ??= now;
    this.emit(true);
  }
}
