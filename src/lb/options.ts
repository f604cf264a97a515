/**
 * Settings of the load balancer data plane on one Berth. They are read when used, so tests (and
 * the CLI) may change them after Berth started.
 *
 * - `bindHost`: the address listeners bind to (default `BERTH_LB_HOST` or 127.0.0.1).
 * - `secondMs`: how many real milliseconds one "second" of a health check interval or timeout
 *   lasts (default 1000). A Berth extension: ALB's minimum interval is 5 s, so tests shrink the
 *   unit instead of going below the API's limits. `BERTH_LB_SECOND_MS` sets it for `berth up`.
 */
import { createServer } from 'node:net';
import type { Platform } from '../services/types.js';

export interface LbOptions {
  bindHost: string;
  secondMs: number;
}

const options = new WeakMap<Platform, LbOptions>();

export function lbOptions(platform: Platform): LbOptions {
  let o = options.get(platform);
  if (!o) {
    const ms = Number(process.env.BERTH_LB_SECOND_MS ?? '1000');
    o = { bindHost: process.env.BERTH_LB_HOST ?? '127.0.0.1', secondMs: Number.isFinite(ms) && ms > 0 ? ms : 1000 };
    options.set(platform, o);
  }
  return o;
}

/** Changes data-plane settings of a running Berth (takes effect for the next checks/binds). */
export function setLbOptions(platform: Platform, changes: Partial<LbOptions>): void {
  Object.assign(lbOptions(platform), changes);
}

/** Whether a TCP port can be bound on `host` right now. */
export function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen({ host, port, exclusive: true }, () => s.close(() => resolve(true)));
  });
}
