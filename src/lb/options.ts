/**
 * Settings of the load balancer data plane. The composition root reads them from the
 * environment (`BERTH_LB_HOST`, `BERTH_LB_SECOND_MS`); tests change them on the running plane.
 *
 * - `bindHost`: the address listeners bind to (default 127.0.0.1).
 * - `secondMs`: how many real milliseconds one "second" of a health check interval or timeout
 *   lasts (default 1000). A Berth extension: ALB's minimum interval is 5 s, so tests shrink the
 *   unit instead of going below the API's limits.
 * - `maxRequestsPerClient`: most requests one client address may have at the targets at once
 *   (default 256), so one client cannot hold every upstream connection.
 */
import { createServer } from 'node:net';

export interface LbOptions {
  bindHost: string;
  secondMs: number;
  /** Most requests one client address may have at the targets at once (more get 503). */
  maxRequestsPerClient: number;
}

export const DEFAULT_LB_OPTIONS: LbOptions = { bindHost: '127.0.0.1', secondMs: 1000, maxRequestsPerClient: 256 };

/** The settings `BERTH_LB_HOST` and `BERTH_LB_SECOND_MS` give (defaults for the rest). */
export function lbOptionsFromEnv(env: NodeJS.ProcessEnv): LbOptions {
  const ms = Number(env.BERTH_LB_SECOND_MS ?? '1000');
  return { ...DEFAULT_LB_OPTIONS, bindHost: env.BERTH_LB_HOST ?? DEFAULT_LB_OPTIONS.bindHost, secondMs: Number.isFinite(ms) && ms > 0 ? ms : 1000 };
}

/** Whether a TCP port can be bound on `host` right now. */
export function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen({ host, port, exclusive: true }, () => s.close(() => resolve(true)));
  });
}
