/**
 * Host port assignment for `hostPort: 0`: a free port from the ECS ephemeral range 49153-65535,
 * checked by actually binding it. Ports handed out by this process are remembered for a while so
 * two containers started at the same time never get the same one.
 */
import { createServer } from 'node:net';
import type { NetworkBinding, PortMapping } from '../types.js';

export const EPHEMERAL_MIN = 49153;
export const EPHEMERAL_MAX = 65535;

const recentlyAssigned = new Map<number, number>();
const HOLD_MS = 60_000;

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen({ port, host: '0.0.0.0', exclusive: true }, () => s.close(() => resolve(true)));
  });
}

/** A currently free TCP port in 49153-65535 not handed out recently by this process. */
export async function freeEphemeralPort(): Promise<number> {
  const now = Date.now();
  for (const [p, t] of recentlyAssigned) if (now - t > HOLD_MS) recentlyAssigned.delete(p);
  for (let i = 0; i < 200; i++) {
    const port = EPHEMERAL_MIN + Math.floor(Math.random() * (EPHEMERAL_MAX - EPHEMERAL_MIN + 1));
    if (recentlyAssigned.has(port)) continue;
    if (await canBind(port)) {
      recentlyAssigned.set(port, Date.now());
      return port;
    }
  }
  throw new Error('no free host port in 49153-65535');
}

/**
 * Resolves every mapping to a concrete host port (assigning ephemeral ones for hostPort 0/absent).
 * An `awsvpc` task has no network interface of its own here: its hostPort (always its
 * containerPort, as ECS requires) would make every such task on a host, and anything else on the
 * port, collide, so it is published on an ephemeral port, as the task's address.
 */
export async function assignPorts(mappings: PortMapping[] | undefined, networkMode?: string): Promise<NetworkBinding[]> {
  const out: NetworkBinding[] = [];
  for (const m of mappings ?? []) {
    const hostPort = m.hostPort && m.hostPort > 0 && networkMode !== 'awsvpc' ? m.hostPort : await freeEphemeralPort();
    out.push({ bindIP: '0.0.0.0', containerPort: m.containerPort, hostPort, protocol: m.protocol ?? 'tcp' });
  }
  return out;
}
