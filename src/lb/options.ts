/**
 * Settings of the load balancer data plane. The composition root reads them from the
 * environment (`BERTH_LB_HOST`, `BERTH_LB_SECOND_MS`); tests change them on the running plane.
 *
 * - `bindHost`: the address listeners bind to (default 127.0.0.1).
 * - `secondMs`: how many real milliseconds one "second" of a health check interval or timeout
 *   lasts (default 1000). A Berth extension: ALB's minimum interval is 5 s, so tests shrink the
 *   unit instead of going below the API's limits.
 * - `maxRequestsPerClient`: most requests one client address may have at the targets at once
 *   (default 256), so one client cannot hold every upstream connection. Counted per data-plane
 *   process: with `workers` > 1 a client may hold up to that many times as many.
 * - `workers` (`BERTH_LB_WORKERS`): how many data-plane processes forward traffic, sharing the
 *   listening sockets (default 1); 0 forwards in the control plane's own process and event loop
 *   (as before the data plane had processes of its own). Read when the plane starts.
 * - `plane` (`BERTH_LB_PLANE`, `berth up --lb`): `embedded` (the Node forwarding above, the
 *   default) or `haproxy` (Berth starts and drives a `haproxy`, ./haproxy/forwarding.ts).
 * - `haproxyDir`: where the HAProxy plane keeps its configuration and sockets (the composition
 *   root puts it under the data dir); `haproxyBinary` the executable (default `haproxy`);
 *   `haproxySecretsDir` (`BERTH_LB_HAPROXY_SECRETS_DIR`) where HTTPS certificates and keys
 *   go (a RAM-backed file system, default /dev/shm).
 * - `spare` (`BERTH_LB_SPARE`, default on; `0` turns it off): keep one more data-plane process
 *   started, fed every table but binding nothing, to take a dead one's place at once (./workers.ts).
 * - `niceness` (`BERTH_LB_NICE`, 0-19, default 0): the scheduling niceness data-plane processes
 *   (and haproxy) run at; above 0, when the CPU is saturated by proxied traffic the control plane
 *   (API, controllers, agent) wins it. Not the default: a niced data plane also loses the CPU to
 *   every other busy process on the host (tasks, builds), and on a loaded machine haproxy at 10
 *   took over 10 s to start its worker.
 */
import { createServer } from 'node:net';
import { setPriority } from 'node:os';

export interface LbOptions {
  bindHost: string;
  secondMs: number;
  /** Most requests one client address may have at the targets at once (more get 503). */
  maxRequestsPerClient: number;
  /** Data-plane processes (0: forward in this process). */
  workers: number;
  /** Which data plane forwards: Berth's own (Node) or a supervised HAProxy. */
  plane: LbPlaneKind;
  /** Keep a spare data-plane process started (it takes a dead one's place at once). */
  spare: boolean;
  /** The niceness data-plane processes run at (0-19; higher yields the CPU to the control plane). */
  niceness: number;
  /** The HAProxy plane's directory (configuration, sockets); required with `plane: 'haproxy'`. */
  haproxyDir?: string;
  /** The haproxy executable (default `haproxy` on the PATH). */
  haproxyBinary?: string;
  /** Where the HAProxy plane makes its private directory of certificate files: it must be RAM-backed (default /dev/shm; ./haproxy/secrets.ts). */
  haproxySecretsDir?: string;
}

/** The data planes Berth can forward with. */
export type LbPlaneKind = 'embedded' | 'haproxy';

/** Whether a string names a data plane. */
export function isLbPlaneKind(s: string): s is LbPlaneKind {
  return s === 'embedded' || s === 'haproxy';
}

/** Most data-plane processes `BERTH_LB_WORKERS` may ask for. */
export const MAX_LB_WORKERS = 64;

export const DEFAULT_LB_OPTIONS: LbOptions = { bindHost: '127.0.0.1', secondMs: 1000, maxRequestsPerClient: 256, workers: 1, plane: 'embedded', spare: true, niceness: 0 };

/** The settings `BERTH_LB_HOST`, `BERTH_LB_SECOND_MS`, `BERTH_LB_WORKERS`, `BERTH_LB_SPARE`, `BERTH_LB_NICE` and `BERTH_LB_PLANE` give (defaults for the rest). */
export function lbOptionsFromEnv(env: NodeJS.ProcessEnv): LbOptions {
  const ms = Number(env.BERTH_LB_SECOND_MS ?? '1000');
  const workers = Number(env.BERTH_LB_WORKERS ?? DEFAULT_LB_OPTIONS.workers);
  const niceness = Number(env.BERTH_LB_NICE ?? DEFAULT_LB_OPTIONS.niceness);
  return {
    ...DEFAULT_LB_OPTIONS,
    bindHost: env.BERTH_LB_HOST ?? DEFAULT_LB_OPTIONS.bindHost,
    secondMs: Number.isFinite(ms) && ms > 0 ? ms : 1000,
    workers: Number.isInteger(workers) && workers >= 0 ? Math.min(workers, MAX_LB_WORKERS) : DEFAULT_LB_OPTIONS.workers,
    spare: env.BERTH_LB_SPARE !== '0',
    niceness: Number.isInteger(niceness) && niceness >= 0 && niceness <= 19 ? niceness : DEFAULT_LB_OPTIONS.niceness,
    plane: env.BERTH_LB_PLANE && isLbPlaneKind(env.BERTH_LB_PLANE) ? env.BERTH_LB_PLANE : DEFAULT_LB_OPTIONS.plane,
    ...(env.BERTH_LB_HAPROXY_SECRETS_DIR ? { haproxySecretsDir: env.BERTH_LB_HAPROXY_SECRETS_DIR } : {}),
  };
}

/** Lowers a started data-plane process's scheduling priority to `niceness` (a process already gone is no error). */
export function lowerPriority(pid: number | undefined, niceness: number): void {
  if (!pid || niceness <= 0) return;
  try {
    setPriority(pid, niceness);
  } catch {
    // It exited already: its exit is handled where it was started.
  }
}

/** Whether a TCP port can be bound on `host` right now. */
export function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen({ host, port, exclusive: true }, () => s.close(() => resolve(true)));
  });
}
