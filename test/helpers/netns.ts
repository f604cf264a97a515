/**
 * "Hosts" on this machine for fault tests across hosts: one network namespace per host, each
 * with its own IPv4 address on a private /24, joined by veth pairs to a bridge in the root
 * namespace (which holds the subnet's .1: the control plane's host). Processes run inside a host
 * through `ip netns exec`; `cut`/`restore` take a host's link down and up (a partition: packets
 * are lost, nothing is refused). Everything is removed when the test file ends, after a failure
 * too, and on process exit; leftovers of a test process that died are removed on the next use.
 *
 * Needs root and iproute2: `createHosts` answers a string saying why when it cannot, so callers
 * skip saying why.
 */
import { spawnSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { after } from 'node:test';

/** One simulated host: a network namespace with its own address. */
export interface NetnsHost {
  /** The namespace's name (`ip netns exec <name> ...`). */
  name: string;
  /** The host's address on the shared subnet. */
  ip: string;
  /** The root-namespace end of its veth pair (on the bridge). */
  link: string;
  /** The argv prefix that runs a command inside this host. */
  exec: string[];
}

/** A set of hosts on one bridge. */
export interface NetnsLab {
  /** The address of the root namespace on the bridge (the control plane's host). */
  gatewayIp: string;
  /** The subnet, e.g. 10.77.12.0/24. */
  subnet: string;
  hosts: NetnsHost[];
  /** Cuts a host off the network (its link goes down: packets to and from it are lost). */
  cut(host: NetnsHost): void;
  /** Brings a cut host back. */
  restore(host: NetnsHost): void;
  /** The processes running in a host now. */
  pids(host: NetnsHost): number[];
  /** Kills every process left in the hosts and removes the namespaces, links and bridge (idempotent). */
  destroy(): void;
}

const PREFIX = 'berthns';

function ip(args: string[]): { ok: boolean; out: string } {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

function must(args: string[]): string {
  const r = ip(args);
  if (!r.ok) throw new Error(`ip ${args.join(' ')}: ${r.out.trim()}`);
  return r.out;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes the namespaces and bridges of test processes that are gone (killed before their cleanup ran). */
function removeLeftovers(): void {
  const names = ip(['netns', 'list']).out.split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith(`${PREFIX}-`));
  for (const n of names) {
    const pid = Number(n.split('-')[1]);
    if (pid > 0 && !alive(pid)) teardownNamespace(n);
  }
  const links = ip(['-o', 'link', 'show', 'type', 'bridge']).out.split('\n');
  for (const l of links) {
    const m = /^\d+: (bn(\d+)x[0-9a-z]+):/.exec(l);
    if (m && !alive(Number(m[2]))) ip(['link', 'del', m[1]!]);
  }
}

function pidsIn(name: string): number[] {
  return ip(['netns', 'pids', name]).out.split('\n').filter(Boolean).map(Number).filter((p) => p > 1);
}

function teardownNamespace(name: string): void {
  for (const pid of pidsIn(name)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  ip(['netns', 'del', name]); // removes the veth inside, and with it its peer on the bridge
}

/** Why hosts cannot be made here (not root, no `ip`, namespaces refused), or undefined. */
export function netnsUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  const probe = spawnSync('ip', ['-V'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) return '`ip` (iproute2) is not installed';
  const name = `${PREFIX}-${process.pid}-probe`;
  const r = ip(['netns', 'add', name]);
  ip(['netns', 'del', name]);
  if (!r.ok) return `cannot create a network namespace: ${r.out.trim()}`;
  return undefined;
}

/**
 * Creates `count` hosts on a fresh bridge (10.77.<n>.0/24, a subnet no interface uses yet; the
 * hosts are .2, .3, ...), or answers why it cannot. Each host has loopback up and a default route
 * through the bridge's address.
 */
export function createHosts(count: number): NetnsLab | string {
  const why = netnsUnavailable();
  if (why) return why;
  removeLeftovers();
  const used = ip(['-4', '-o', 'addr']).out;
  let octet = -1;
  for (let i = 0; i < 50 && octet < 0; i++) {
    const n = randomInt(1, 255);
    if (!used.includes(` 10.77.${n}.`)) octet = n;
  }
  if (octet < 0) return 'no free 10.77.x.0/24 subnet for the test hosts';
  const tag = `${process.pid}x${randomInt(0, 36 ** 2).toString(36)}`; // link names: at most 15 characters
  const bridge = `bn${tag}`;
  const gatewayIp = `10.77.${octet}.1`;
  const hosts: NetnsHost[] = [];
  let destroyed = false;
  const lab: NetnsLab = {
    gatewayIp,
    subnet: `10.77.${octet}.0/24`,
    hosts,
    cut: (h) => void must(['link', 'set', h.link, 'down']),
    restore: (h) => void must(['link', 'set', h.link, 'up']),
    pids: (h) => pidsIn(h.name),
    destroy() {
      if (destroyed) return;
      destroyed = true;
      for (const h of hosts) teardownNamespace(h.name);
      ip(['link', 'del', bridge]);
      process.off('exit', onExit);
    },
  };
  const onExit = () => lab.destroy();
  process.on('exit', onExit);
  after(() => lab.destroy());
  try {
    must(['link', 'add', bridge, 'type', 'bridge']);
    must(['addr', 'add', `${gatewayIp}/24`, 'dev', bridge]);
    must(['link', 'set', bridge, 'up']);
    for (let i = 0; i < count; i++) {
      const name = `${PREFIX}-${process.pid}-${octet}-${i}`;
      const link = `bv${tag}${i}`.slice(0, 15);
      const peer = `bp${tag}${i}`.slice(0, 15);
      const hostIp = `10.77.${octet}.${i + 2}`;
      must(['netns', 'add', name]);
      hosts.push({ name, ip: hostIp, link, exec: ['ip', 'netns', 'exec', name] });
      must(['link', 'add', link, 'type', 'veth', 'peer', 'name', peer]);
      must(['link', 'set', peer, 'netns', name]);
      must(['link', 'set', link, 'master', bridge]);
      must(['link', 'set', link, 'up']);
      const inside = (args: string[]) => must(['-n', name, ...args]);
      inside(['link', 'set', 'lo', 'up']);
      inside(['link', 'set', peer, 'name', 'eth0']);
      inside(['addr', 'add', `${hostIp}/24`, 'dev', 'eth0']);
      inside(['link', 'set', 'eth0', 'up']);
      inside(['route', 'add', 'default', 'via', gatewayIp]);
    }
  } catch (e) {
    lab.destroy();
    return `cannot set up the test hosts: ${(e as Error).message}`;
  }
  return lab;
}
