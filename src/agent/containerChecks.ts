/**
 * The checks a TaskRunner (taskRunner.ts) runs on its running containers: the ECS health check
 * (a command run in the container every interval; `retries` failures in a row, outside the start
 * period, make it UNHEALTHY) and the driver's diagnosis of a container with port mappings
 * (Driver.diagnose: what may be wrong, reported as the container's reason while it lasts); and
 * the task's health from its essential containers'. Waiting uses real timers.
 */
import type { Clock } from '../clock.js';
import type { Driver, DriverHandle } from './drivers/driver.js';
import type { ContainerSpec, ContainerState, HealthStatus } from './types.js';

/**
 * A running container with port mappings is first diagnosed (Driver.diagnose: the process driver
 * looks for a listener on each host port) after its health check's startPeriod, or this long.
 */
export const DIAGNOSE_GRACE_MS = 10_000;
/** Then again this often, until the driver finds nothing wrong. */
const DIAGNOSE_INTERVAL_MS = 5_000;

/** Maps an ECS healthCheck command to argv (CMD-SHELL runs through /bin/sh -c, as Docker does). */
export function healthCheckArgv(command: string[]): string[] {
  if (command[0] === 'CMD-SHELL') return ['/bin/sh', '-c', command.slice(1).join(' ')];
  if (command[0] === 'CMD') return command.slice(1);
  return command;
}

/** What the checks keep of one container (part of the runner's record of it). */
export interface CheckedContainer {
  spec: ContainerSpec;
  handle?: DriverHandle;
  healthTimer?: NodeJS.Timeout;
  diagnoseTimer?: NodeJS.Timeout;
  healthFailures: number;
  startedAtMs?: number;
}

/** What the checks need of their runner. */
export interface ChecksHost {
  driver: Driver;
  clock: Clock;
  /** Grace before the first diagnosis when the health check has no startPeriod (default DIAGNOSE_GRACE_MS). */
  diagnoseGraceMs?: number;
  /** True once the runner no longer follows the task (nothing is checked then). */
  isDetached(): boolean;
  live(name: string): CheckedContainer;
  state(name: string): ContainerState;
  /** Reports the task's state (persisting it when asked). */
  emit(persist?: boolean): void;
}

/** The task's health: that of its essential containers with a health check (UNKNOWN without any). */
export function taskHealth(containers: readonly ContainerState[], live: ReadonlyMap<string, { spec: ContainerSpec }>): HealthStatus {
  const checked = containers.filter((c) => c.essential && live.get(c.name)?.spec.healthCheck);
  if (checked.length === 0) return 'UNKNOWN';
  if (checked.some((c) => c.healthStatus === 'UNHEALTHY')) return 'UNHEALTHY';
  if (checked.every((c) => c.healthStatus === 'HEALTHY')) return 'HEALTHY';
  return 'UNKNOWN';
}

/** Health checks and diagnoses of one task's running containers. */
export class ContainerChecks {
  constructor(private readonly host: ChecksHost) {}

  /** Starts checking a container that has just come to run (started, or recovered running). */
  start(name: string): void {
    if (this.host.live(name).spec.healthCheck) this.scheduleHealthCheck(name, true);
    this.scheduleDiagnosis(name, true);
  }

  /** Stops the container's scheduled checks (one under way reports nothing once it no longer runs). */
  stop(l: CheckedContainer): void {
    if (l.healthTimer) clearTimeout(l.healthTimer);
    l.healthTimer = undefined;
    if (l.diagnoseTimer) clearTimeout(l.diagnoseTimer);
    l.diagnoseTimer = undefined;
  }

  /**
   * Asks the driver what may be wrong with a running container with port mappings, once its
   * grace is over, then every DIAGNOSE_INTERVAL_MS until nothing is: the problem is reported as
   * the container's reason (the task keeps running), and cleared once it is gone.
   */
  private scheduleDiagnosis(name: string, first: boolean): void {
    const l = this.host.live(name);
    if (!this.host.driver.diagnose || !l.spec.portMappings?.length) return;
    const startPeriodMs = (l.spec.healthCheck?.startPeriod ?? 0) * 1000;
    const delay = first ? (startPeriodMs > 0 ? startPeriodMs : (this.host.diagnoseGraceMs ?? DIAGNOSE_GRACE_MS)) : DIAGNOSE_INTERVAL_MS;
    if (l.diagnoseTimer) clearTimeout(l.diagnoseTimer);
    l.diagnoseTimer = setTimeout(() => void this.runDiagnosis(name), delay);
  }

  private async runDiagnosis(name: string): Promise<void> {
    const l = this.host.live(name);
    const cs = this.host.state(name);
    l.diagnoseTimer = undefined;
    if (this.host.isDetached() || !l.handle || cs.lastStatus !== 'RUNNING') return;
    const problem = await this.host.driver.diagnose!(l.handle).catch(() => undefined);
    if (this.host.isDetached() || cs.lastStatus !== 'RUNNING') return;
    if (problem) {
      // A reason of another kind (an earlier one, set by the runner) is not overwritten.
      if (!cs.reason || cs.diagnosis) {
        const reason = problem.slice(0, 255);
        if (cs.reason !== reason) {
          cs.reason = reason;
          cs.diagnosis = true;
          this.host.emit(true);
        }
      }
      this.scheduleDiagnosis(name, false);
    } else if (cs.diagnosis) {
      // An empty reason clears it on the control plane too.
      cs.reason = '';
      cs.diagnosis = undefined;
      this.host.emit(true);
    }
  }

  private scheduleHealthCheck(name: string, first: boolean): void {
    const l = this.host.live(name);
    const hc = l.spec.healthCheck!;
    const interval = (hc.interval ?? 30) * 1000;
    // Like Docker, the first probe runs one interval after start (capped at 1 s so status appears early).
    const delay = first ? Math.min(interval, 1000) : interval;
    l.healthTimer = setTimeout(() => void this.runHealthCheck(name), delay);
  }

  private async runHealthCheck(name: string): Promise<void> {
    if (this.host.isDetached()) return;
    const l = this.host.live(name);
    const cs = this.host.state(name);
    if (!l.handle || cs.lastStatus !== 'RUNNING') return;
    const hc = l.spec.healthCheck!;
    const r = await this.host.driver.exec(l.handle, healthCheckArgv(hc.command), (hc.timeout ?? 5) * 1000).catch((e: Error) => ({ exitCode: 1, output: e.message, timedOut: false }));
    if (cs.lastStatus !== 'RUNNING') return;
    if (r.exitCode === 0 && !r.timedOut) {
      l.healthFailures = 0;
      cs.healthStatus = 'HEALTHY';
    } else {
      const inStartPeriod = this.host.clock.now() - (l.startedAtMs ?? 0) < (hc.startPeriod ?? 0) * 1000;
      if (!(inStartPeriod && cs.healthStatus !== 'HEALTHY')) {
        l.healthFailures++;
        if (l.healthFailures >= (hc.retries ?? 3)) cs.healthStatus = 'UNHEALTHY';
      }
    }
    this.host.emit();
    if (cs.lastStatus === 'RUNNING' && !this.host.isDetached()) this.scheduleHealthCheck(name, false);
  }
}
