/**
 * The HAProxy-driven forwarding (issue 19): Berth starts and supervises one `haproxy` in
 * master-worker mode, feeds it the configuration compiled from each routing table
 * (./config.ts) and drives target changes and health through its runtime API. It plays the
 * part the embedded forwarding (../forwarding.ts, ../workers.ts) plays for `LoadBalancerPlane`,
 * so the domain's `DataPlaneView` answers the same whichever plane forwards.
 *
 * - Files live in `dir` (under the data dir, 0700): `haproxy.cfg` (0600), the worker's runtime
 *   socket `admin.sock` and the master CLI `master.sock` (both mode 600). HTTPS listeners'
 *   certificates and keys never go there: they are written to a private RAM-backed directory
 *   (./secrets.ts) and bound with `ssl crt-list`; without one, HTTPS listeners are refused.
 * - Structure (listeners, rules, backends, server options) changes → the new configuration is
 *   checked (`haproxy -c`), written, and the master reloads hitlessly (SIGUSR2: the new worker
 *   takes the listening sockets over, the old one finishes its connections).
 * - Targets added with the structure unchanged → runtime API `add server`; targets removed →
 *   `set server ... state maint`, kept so until the next reload (never `del server`: HAProxy 2.6
 *   can abort deleting a server that streams still reference); a reload when HAProxy refuses or
 *   more than 64 removed servers are kept.
 * - Health stays Berth's (../health.ts, the control plane's checker, ALB's state machine and
 *   reasons, the platform clock): each server's state is pushed with `set server <b>/<s> state
 *   ready|maint` as the embedded plane's eligibility says (healthy targets; all non-draining
 *   ones when none is healthy, ALB's fail open; never a draining one).
 * - Stats (`show stat`, every second; every 250 ms while a target drains) give requests in
 *   flight per server (draining targets' idleness) and per-target-group counts (same metric
 *   names as the embedded plane).
 * - A haproxy that dies is started again (counted in `restarts`).
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { mkdirSync, writeFileSync, renameSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import type { Elbv2Snapshot } from '../../domain/elbv2/snapshot.js';
import type { CompiledGroup, CompiledTable, CompiledTarget } from '../compile.js';
import type { TargetHealthStatus } from '../health.js';
import type { CounterName, LoadBalancerMetrics } from '../metrics.js';
import { lowerPriority, portFree } from '../options.js';
import type { PemPair } from '../../domain/elbv2/certificates.js';
import type { CompiledListener } from '../compile.js';
import { buildListenerTls } from '../tls.js';
import { RamSecrets, type ListenerCertificate } from './secrets.js';
import { backendName, haproxyConfig, serverLine, serverName, type HaproxyConfigOptions } from './config.js';

/** What the HAProxy forwarding needs from the plane. */
export interface HaproxyForwardingDeps {
  /** The directory of its configuration and sockets (made 0700). */
  dir: string;
  /** The haproxy executable (default `haproxy` on the PATH). */
  binary?: string;
  bindHost: () => string;
  secondMs: () => number;
  healthOf: (identity: string) => TargetHealthStatus | undefined;
  metrics: LoadBalancerMetrics;
  onDrainingIdle: () => void;
  /** Diagnostics (haproxy's alerts, restarts). */
  log?: (line: string) => void;
  /** A certificate's PEMs by ARN, or why they cannot be had (HTTPS listeners). */
  certificate?: (arn: string) => PemPair | string;
  /** Where the private RAM-backed directory of certificate files is made (default /dev/shm; ./secrets.ts). */
  secretsBase?: string;
  /** The niceness haproxy runs at (its workers inherit it; ../options.ts). */
  niceness?: number;
}

/** Most bytes read from one runtime API answer. */
const MAX_ANSWER = 8 * 1024 * 1024;
/** Removed targets kept as servers in maintenance before a reload drops them (see `applyTargets`). */
const MAX_RETIRED = 64;
/** How long one runtime API command may take. */
const COMMAND_TIMEOUT_MS = 3000;

/** One runtime API command on a UNIX socket; resolves with the whole answer. */
export function runtimeCommand(socket: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const s = connect(socket);
    const timer = setTimeout(() => s.destroy(new Error(`haproxy runtime API: ${command.split(' ')[0]} timed out`)), COMMAND_TIMEOUT_MS);
    s.on('connect', () => s.write(command + '\n'));
    s.on('data', (c) => {
      size += c.length;
      if (size > MAX_ANSWER) return s.destroy(new Error('haproxy runtime API: answer too large'));
      chunks.push(c);
    });
    s.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    s.on('close', (hadError) => {
      clearTimeout(timer);
      if (!hadError) resolve(Buffer.concat(chunks).toString('utf8'));
    });
  });
}

/** `show stat` CSV rows as objects by column name. */
export function parseStat(csv: string): Record<string, string>[] {
  const lines = csv.split('\n').filter((l) => l.length > 0);
  const head = lines.shift();
  if (!head?.startsWith('# ')) return [];
  const cols = head.slice(2).split(',');
  return lines.map((l) => {
    const v = l.split(',');
    const row: Record<string, string> = {};
    cols.forEach((c, i) => (row[c] = v[i] ?? ''));
    return row;
  });
}

interface ServerRef {
  backend: string;
  server: string;
  target: CompiledTarget;
  group: CompiledGroup;
}

export class HaproxyForwarding {
  private readonly dir: string;
  private readonly binary: string;
  private readonly cfgPath: string;
  private readonly adminSocket: string;
  private readonly masterSocket: string;
  private child: ChildProcess | undefined;
  private workerPid = 0;
  private stopped = false;
  private table: CompiledTable | undefined;
  private snapshot: Elbv2Snapshot | undefined;
  /** Structure of the running configuration (see `structureKey`). */
  private structure: string | undefined;
  /** Servers in the running haproxy, `backend/server` → the state set (`ready` | `maint`). */
  private servers = new Map<string, 'ready' | 'maint'>();
  /** The servers and states written in the configuration file last loaded (what a restarted haproxy has). */
  private loadedServers = new Map<string, 'ready' | 'maint'>();
  /** When haproxy was last started again after dying (restarts in a row are spaced out). */
  private restartedAt = 0;
  private refs = new Map<string, ServerRef>();
  private ports = new Set<number>();
  private readonly errors = new Map<number, string>();
  /** Current sessions per server (`backend/server`) as of the last stats poll, and when it was taken. */
  private sessions = new Map<string, number>();
  private polledAt = 0;
  private drainingSince = new Map<string, number>();
  /** Counter values at the last poll, by `proxy/server/column`. */
  private seen = new Map<string, number>();
  private poller: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private work: Promise<void> = Promise.resolve();
  /** HTTPS listeners' certificate files (RAM-backed, never under the data dir). */
  private readonly secrets: RamSecrets;
  /** How many times haproxy died and was started again. */
  restarts = 0;
  /** How many times the configuration was (re)loaded (structure changes; target changes use the runtime API). */
  loads = 0;

  constructor(private readonly deps: HaproxyForwardingDeps) {
    this.dir = deps.dir;
    this.binary = deps.binary ?? 'haproxy';
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    chmodSync(this.dir, 0o700);
    this.cfgPath = join(this.dir, 'haproxy.cfg');
    this.adminSocket = join(this.dir, 'admin.sock');
    this.masterSocket = join(this.dir, 'master.sock');
    this.secrets = new RamSecrets(deps.secretsBase);
  }

  /** Ports whose listener could not bind (or that this plane does not serve), with why. */
  get bindErrors(): ReadonlyMap<number, string> {
    return this.errors;
  }

  /** The haproxy master's process id (0 before it started). */
  get pid(): number {
    return this.child?.pid ?? 0;
  }

  serving(port: number): boolean {
    return this.ports.has(port);
  }

  /** Requests at a target as of the last stats poll; undefined until a poll after it started draining. */
  requestsInFlight(identity: string): number | undefined {
    for (const [key, ref] of this.refs) {
      if (ref.target.identity !== identity) continue;
      const since = this.drainingSince.get(key);
      if (since !== undefined && this.polledAt <= since) return undefined;
      return this.sessions.get(key) ?? 0;
    }
    return 0;
  }

  /** Applies a table: reload when the structure changed, else runtime changes; then pushes states. */
  apply(table: CompiledTable, snapshot: Elbv2Snapshot): Promise<void> {
    this.work = this.work.catch(() => undefined).then(() => this.applyNow(table, snapshot));
    return this.work;
  }

  /** A target group's health changed: pushes its servers' states. */
  refreshGroup(_tgArn: string): void {
    this.work = this.work.catch(() => undefined).then(() => this.pushStates());
  }

  /** Resolves once every table and health change given so far is applied. */
  async settled(): Promise<void> {
    let w: Promise<void>;
    do {
      w = this.work;
      await w.catch(() => undefined);
    } while (w !== this.work);
  }

  /** Polls the stats now (metrics, requests in flight). */
  async flush(): Promise<void> {
    await this.poll();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.poller) clearTimeout(this.poller);
    await this.work.catch(() => undefined);
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 3000);
      await gone;
      clearTimeout(t);
    }
    this.secrets.dispose();
  }

  // ---- configuration ---------------------------------------------------------------------------

  private configOptions(skipPorts: ReadonlySet<number>, crtLists: ReadonlyMap<number, string>): HaproxyConfigOptions {
    return { bindHost: this.deps.bindHost(), adminSocket: this.adminSocket, secondMs: this.deps.secondMs(), serverReady: (t) => this.ready(t), skipPorts, crtLists };
  }

  /**
   * An HTTPS listener's certificates written to the RAM-backed directory: its crt-list and
   * files, or why it cannot be served (a certificate missing or unusable, no RAM-backed directory).
   */
  private listenerCertificates(l: CompiledListener): { crtList: string; files: string[] } | string {
    const certs: ListenerCertificate[] = [];
    for (const arn of [l.certificateArn, ...l.extraCertificateArns]) {
      const pem = this.deps.certificate?.(arn) ?? 'no certificate source';
      if (typeof pem === 'string') return pem;
      certs.push({ arn, pem });
    }
    try {
      // The checks the embedded plane makes (a key that does not match its certificate, say),
      // so one bad certificate leaves its listener out instead of failing the whole configuration.
      buildListenerTls(certs, l.sslPolicy);
    } catch (e) {
      return String(e);
    }
    return this.secrets.writeListener(l.port, certs);
  }

  /** The configuration without its server lines, plus each backend's server options: what needs a reload. */
  private structureKey(config: string, table: CompiledTable, opts: HaproxyConfigOptions): string {
    const lines = config.split('\n').filter((l) => !l.startsWith('  server '));
    for (const g of table.groups.values()) {
      const probe = serverLine(g, { identity: '', tgArn: g.arn, id: '127.0.0.1', port: 1, registeredAt: 0, draining: false }, { ...opts, serverReady: () => true });
      lines.push(`${g.arn} ${probe?.split(' ').slice(2).join(' ').replace(/cookie \S+/, 'cookie')}`);
    }
    return lines.join('\n');
  }

  private async applyNow(table: CompiledTable, snapshot: Elbv2Snapshot): Promise<void> {
    if (this.stopped) return;
    this.table = table;
    this.snapshot = snapshot;
    // Ports: a listener whose port another process holds is left out (and reported), so one
    // conflict does not keep haproxy from loading the rest.
    const skip = new Set<number>();
    this.errors.clear();
    const crtLists = new Map<number, string>();
    const files = new Set<string>();
    for (const l of table.listeners.values()) {
      if (!this.ports.has(l.port) && !(await portFree(this.deps.bindHost(), l.port))) {
        skip.add(l.port);
        this.errors.set(l.port, `port ${l.port} is in use`);
      } else if (l.protocol === 'HTTPS') {
        const written = this.listenerCertificates(l);
        if (typeof written === 'string') {
          skip.add(l.port);
          this.errors.set(l.port, written);
          this.deps.log?.(`berth lb haproxy: listener ${l.arn}: ${written}`);
        } else {
          crtLists.set(l.port, written.crtList);
          for (const f of written.files) files.add(f);
        }
      }
    }
    const opts = this.configOptions(skip, crtLists);
    const config = haproxyConfig(snapshot, opts);
    const key = this.structureKey(config, table, opts);
    const refs = this.serverRefs(table);
    if (this.child && this.workerPid && key === this.structure && (await this.applyTargets(refs, table, opts))) {
      this.refs = refs;
    } else {
      // Certificate files leave once a configuration without them is loaded (a refused one
      // leaves them all until the next load, so the running one keeps what it reads on a restart).
      await this.load(config);
      this.secrets.retain(files);
      this.structure = key;
      this.refs = refs;
      this.servers = new Map([...refs].map(([k, r]) => [k, r.target.draining || !this.ready(r.target) ? 'maint' : 'ready']));
      this.loadedServers = new Map(this.servers);
    }
    this.ports = new Set([...table.listeners.values()].filter((l) => !skip.has(l.port)).map((l) => l.port));
    const now = Date.now();
    for (const [k, r] of refs) if (r.target.draining && !this.drainingSince.has(k)) this.drainingSince.set(k, now);
    for (const k of this.drainingSince.keys()) if (!refs.get(k)?.target.draining) this.drainingSince.delete(k);
    await this.pushStates();
    this.schedulePoll(this.drainingSince.size ? 0 : 1000);
  }

  private serverRefs(table: CompiledTable): Map<string, ServerRef> {
    const refs = new Map<string, ServerRef>();
    for (const g of table.groups.values()) {
      for (const t of g.targets) refs.set(`${backendName(g.arn)}/${serverName(t)}`, { backend: backendName(g.arn), server: serverName(t), target: t, group: g });
    }
    return refs;
  }

  /** Adds and removes servers through the runtime API; false when HAProxy refused (reload instead). */
  private async applyTargets(refs: Map<string, ServerRef>, table: CompiledTable, opts: HaproxyConfigOptions): Promise<boolean> {
    try {
      for (const [key, r] of refs) {
        if (this.servers.has(key)) continue;
        const line = serverLine(r.group, r.target, { ...opts, serverReady: () => true });
        if (!line) continue;
        const answer = await this.admin(`add server ${r.backend}/${line}`);
        if (!/New server registered/i.test(answer)) throw new Error(answer.trim());
        this.servers.set(key, 'maint'); // dynamic servers start in maintenance
      }
      // Removed targets stay as servers in maintenance (no new requests; requests in flight
      // finish) until the next reload drops them: HAProxy 2.6 can abort when `del server`
      // deletes a dynamic server that streams still point to (fixed upstream in 2.9), so Berth
      // never deletes one at runtime. More than MAX_RETIRED of them: a hitless reload instead.
      const retired = [...this.servers.keys()].filter((key) => !refs.has(key));
      if (retired.length > MAX_RETIRED) throw new Error(`${retired.length} removed servers kept in maintenance: reloading to drop them`);
      for (const key of retired) {
        if (this.servers.get(key) !== 'maint') await this.admin(`set server ${key} state maint`);
        this.servers.set(key, 'maint');
      }
      void table;
      return true;
    } catch (e) {
      this.deps.log?.(`berth lb haproxy: runtime change refused, reloading: ${(e as Error).message}`);
      return false;
    }
  }

  /** Whether a target should get new requests (the embedded plane's eligibility, ../upstreams.ts). */
  private ready(t: CompiledTarget): boolean {
    if (t.draining) return false;
    const g = this.table?.groups.get(t.tgArn);
    if (!g || !g.healthCheck) return true;
    const healthy = g.targets.filter((x) => !x.draining && this.deps.healthOf(x.identity)?.state === 'healthy');
    return healthy.length === 0 || healthy.some((x) => x.identity === t.identity);
  }

  private async pushStates(): Promise<void> {
    if (!this.workerPid || this.stopped) return;
    const commands: string[] = [];
    const groups = new Map<string, { healthy: number; unhealthy: number }>();
    for (const [key, r] of this.refs) {
      if (!this.servers.has(key)) continue;
      const want = this.ready(r.target) ? 'ready' : 'maint';
      if (this.servers.get(key) !== want) commands.push(`set server ${key} state ${want}`);
      this.servers.set(key, want);
      const c = groups.get(r.group.arn) ?? { healthy: 0, unhealthy: 0 };
      if (!r.target.draining) {
        const h = r.group.healthCheck ? this.deps.healthOf(r.target.identity)?.state : 'healthy';
        if (h === 'healthy') c.healthy++;
        else if (h === 'unhealthy') c.unhealthy++;
      }
      groups.set(r.group.arn, c);
    }
    for (const g of this.table?.groups.values() ?? []) {
      const c = groups.get(g.arn) ?? { healthy: 0, unhealthy: 0 };
      const gauges = this.deps.metrics.targetGroup(g.arn).gauges;
      gauges.HealthyHostCount = c.healthy;
      gauges.UnHealthyHostCount = c.unhealthy;
    }
    // Several commands in one connection, separated by `;` (runtime API batch).
    for (let i = 0; i < commands.length; i += 50) {
      await this.admin(commands.slice(i, i + 50).join(';')).catch((e) => this.deps.log?.(`berth lb haproxy: setting server states failed: ${(e as Error).message}`));
    }
  }

  // ---- the process -----------------------------------------------------------------------------

  private async load(config: string): Promise<void> {
    const next = this.cfgPath + '.next';
    writeFileSync(next, config, { mode: 0o600 });
    await new Promise<void>((resolve, reject) =>
      execFile(this.binary, ['-c', '-q', '-f', next], { timeout: 10_000 }, (err, stdout, stderr) => (err ? reject(new Error(`haproxy -c refused the configuration: ${stderr || stdout || err.message}`.slice(0, 2000))) : resolve())),
    );
    renameSync(next, this.cfgPath);
    this.loads++;
    if (!this.child) {
      await this.spawn();
      return;
    }
    await this.poll(); // the old worker's last counts
    const old = this.workerPid;
    this.child.kill('SIGUSR2');
    await this.waitForWorker(old);
  }

  private async spawn(): Promise<void> {
    const child = spawn(this.binary, ['-W', '-db', '-f', this.cfgPath, '-S', `${this.masterSocket},mode,600`], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    lowerPriority(child.pid, this.deps.niceness ?? 0);
    this.workerPid = 0;
    let tail = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => {
      tail = (tail + d).slice(-4096);
      for (const line of d.split('\n')) if (!this.stopped && /\[ALERT\]/.test(line)) this.deps.log?.(`berth lb haproxy: ${line.trim()}`);
    });
    child.once('exit', (code, signal) => {
      if (this.child !== child) return;
      this.workerPid = 0;
      if (this.stopped) return;
      this.restarts++;
      this.deps.log?.(`berth lb haproxy: exited (${signal ?? code}), starting it again: ${tail.split('\n').slice(-3).join(' ')}`);
      this.child = undefined;
      this.seen.clear();
      // Started again at once from the configuration file it ran (checked when it was loaded),
      // then brought up to date through the runtime API like any table; a restart within a
      // second of the last one waits a second, so a haproxy that cannot stay up does not spin.
      const wait = Date.now() - this.restartedAt < 1000 ? 1000 : 0;
      this.restartedAt = Date.now() + wait;
      this.work = this.work
        .catch(() => undefined)
        .then(() => new Promise((r) => setTimeout(r, wait)))
        .then(() => this.restart())
        .catch((e) => this.deps.log?.(`berth lb haproxy: restart failed: ${(e as Error).message}`));
    });
    await this.waitForWorker(0);
  }

  /** Starts haproxy again after it died, then applies the current table (a full load if that fails). */
  private async restart(): Promise<void> {
    if (this.stopped || this.child || !this.table || !this.snapshot) return;
    try {
      await this.spawn();
      this.servers = new Map(this.loadedServers);
    } catch (e) {
      this.deps.log?.(`berth lb haproxy: restart from the last configuration failed, loading anew: ${(e as Error).message}`);
      (this.child as ChildProcess | undefined)?.kill('SIGKILL');
      this.child = undefined;
      this.structure = undefined;
    }
    await this.applyNow(this.table, this.snapshot);
  }

  /** Waits until the runtime socket answers from a worker other than `old`. */
  private async waitForWorker(old: number): Promise<void> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (!this.child) throw new Error('haproxy exited while starting');
      const info = await this.admin('show info').catch(() => '');
      const pid = Number(/^Pid: (\d+)/m.exec(info)?.[1] ?? 0);
      if (pid && pid !== old) {
        this.workerPid = pid;
        this.seen.clear();
        return;
      }
      if (Date.now() > deadline) throw new Error('haproxy did not start a worker within 10 s');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  private admin(command: string): Promise<string> {
    return runtimeCommand(this.adminSocket, command);
  }

  // ---- stats -----------------------------------------------------------------------------------

  private schedulePoll(ms: number): void {
    if (this.stopped) return;
    if (this.poller) clearTimeout(this.poller);
    this.poller = setTimeout(() => {
      void this.poll().finally(() => this.schedulePoll(this.drainingSince.size ? 250 : 1000));
    }, ms);
    this.poller.unref();
  }

  private poll(): Promise<void> {
    this.polling ??= this.pollNow().finally(() => (this.polling = undefined));
    return this.polling;
  }

  private async pollNow(): Promise<void> {
    if (!this.workerPid || !this.table) return;
    const started = Date.now();
    const csv = await this.admin('show stat').catch(() => '');
    const rows = parseStat(csv);
    if (!rows.length) return;
    const byBackend = new Map<string, string>();
    for (const g of this.table.groups.values()) byBackend.set(backendName(g.arn), g.arn);
    const byFrontend = new Map<string, string>();
    for (const l of this.table.listeners.values()) byFrontend.set(`l_${l.port}`, l.lbArn);
    const delta = (row: Record<string, string>, col: string): number => {
      const key = `${row.pxname}/${row.svname}/${col}`;
      const now = Number(row[col] || 0);
      const before = this.seen.get(key) ?? 0;
      this.seen.set(key, now);
      return now >= before ? now - before : now;
    };
    const sessions = new Map<string, number>();
    for (const row of rows) {
      const px = row.pxname ?? '';
      const sv = row.svname ?? '';
      if (sv === 'FRONTEND') {
        const lb = byFrontend.get(px);
        const n = delta(row, 'req_tot');
        if (lb && n > 0) this.deps.metrics.loadBalancer(lb).absorb({ counts: { RequestCount: n }, samples: [], gauges: {} });
        continue;
      }
      const tg = byBackend.get(px);
      if (!tg) continue;
      if (sv === 'BACKEND') {
        const n = delta(row, 'stot');
        const m = this.deps.metrics.targetGroup(tg);
        const rtime = Number(row.rtime || 0) / 1000;
        if (n > 0) m.absorb({ counts: { RequestCount: n }, samples: [rtime], gauges: {} });
        continue;
      }
      const key = `${px}/${sv}`;
      sessions.set(key, Number(row.scur || 0));
      const counts: Partial<Record<CounterName, number>> = {
        HTTPCode_Target_2XX_Count: delta(row, 'hrsp_2xx'),
        HTTPCode_Target_3XX_Count: delta(row, 'hrsp_3xx'),
        HTTPCode_Target_4XX_Count: delta(row, 'hrsp_4xx'),
        HTTPCode_Target_5XX_Count: delta(row, 'hrsp_5xx'),
      };
      if (Object.values(counts).some((n) => n! > 0)) {
        this.deps.metrics.targetGroup(tg).absorb({ counts, samples: [], gauges: {} });
        const lb = this.deps.metrics.ownerOf(tg);
        if (lb) this.deps.metrics.loadBalancer(lb).absorb({ counts, samples: [], gauges: {} });
      }
    }
    this.sessions = sessions;
    this.polledAt = started;
    let idle = false;
    for (const k of this.drainingSince.keys()) if ((sessions.get(k) ?? 0) === 0) idle = true;
    if (idle) this.deps.onDrainingIdle();
  }
}
