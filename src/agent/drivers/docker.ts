/**
 * The docker driver: runs containers through the Docker Engine API on the unix socket (dockerd or
 * podman's compat API), never the CLI.
 *
 * - Each task gets a user-defined bridge network `berth-task-<taskId>`; every container joins it
 *   with network aliases = its container name plus the names other containers link it as, so
 *   `links` and hostnames resolve inside the task (networkMode host/none are passed through).
 * - hostPort 0 becomes a free host port in 49153-65535 chosen by Berth (not the engine), reported
 *   back as network bindings.
 * - Labels: berth.managed=true, berth.task-id, berth.task-arn, berth.container-name, plus dockerLabels.
 * - OOM detection does not trust the engine's OOMKilled flag alone: it is OR-ed with the engine's
 *   `oom` events and the container cgroup's own oom_kill counter (memory.events on cgroup v2,
 *   memory.oom_control on v1), whose path is found from /proc/<pid>/cgroup while the container runs.
 */
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import type { ContainerSpec } from '../types.js';
import { SIGNAL_NUMBERS, type ContainerStats, type Driver, type DriverHandle, type DriverLogLine, type ExecResult, type ExitInfo, type Fingerprint, type InspectResult, type LogsOptions, type PullResult, type RecoverResult, type RegistryAuth, type StartRequest, type Subscription } from './driver.js';
import { DockerLogPass, parseCursor as parseLogCursor, sinceSeconds } from './dockerLogs.js';
import { DockerEngine, Demuxer, EngineError, readAll } from './dockerApi.js';
import { assignPorts } from './ports.js';
import { ECS_CREDENTIALS_ADDRESS } from '../taskCredentials.js';
import { readOomKills } from './processSupervisor.js';
import { prepareMounts, removeTaskVolumes } from './dockerVolumes.js';

/** Options of the docker driver. */
export interface DockerDriverOptions {
  /** Engine socket path; default from DOCKER_HOST or /var/run/docker.sock. */
  socketPath?: string;
  /** Root of the host cgroup filesystem, for OOM counters. Default /sys/fs/cgroup. */
  cgroupRoot?: string;
}

interface DockerState {
  containerId: string;
  containerName: string;
  oomFile?: string;
}

const MiB = 1024 * 1024;
const enc = encodeURIComponent;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Name-safe form of a string for docker object names. */
function safe(s: string): string {
  return s.replace(/[^A-Za-z0-9_.-]/g, '-');
}

/** The network of a task. */
/** A container joins its task's own network unless it runs with host or no networking, or is its task's only container. */
function usesTaskNetwork(req: StartRequest): boolean {
  const mode = req.container.networkMode ?? 'bridge';
  return mode !== 'host' && mode !== 'none' && req.taskNetwork !== false;
}

/**
 * A shared network a container joins instead of its task's own (Berth's compose: one network per
 * project, so services in different tasks find each other by name): the `berth.network` docker
 * label names it (`berth-` and letters, digits, dots, dashes, underscores), `berth.network-aliases`
 * adds comma-separated aliases to the container name and hostname. Created on first use, removed
 * when a task's cleanup finds it empty.
 */
export const SHARED_NETWORK_LABEL = 'berth.network';
/** How long a new shared network is kept even when empty (a task may be about to join it). */
const SHARED_NETWORK_GRACE_MS = 10_000;
/** How many times (200 ms apart) a cleanup waits for stopped containers to leave a shared network. */
const SHARED_NETWORK_WAIT_ROUNDS = 25;
/** The extra aliases on the shared network (comma-separated). */
export const SHARED_NETWORK_ALIASES_LABEL = 'berth.network-aliases';

/** The shared network a container asks for (only bridge-mode containers), or undefined. */
function sharedNetworkOf(c: ContainerSpec): string | undefined {
  const name = c.dockerLabels?.[SHARED_NETWORK_LABEL];
  if (!name || (c.networkMode ?? 'bridge') !== 'bridge') return undefined;
  return /^berth-[A-Za-z0-9_.-]{1,100}$/.test(name) ? name : undefined;
}

export function taskNetworkName(taskId: string): string {
  return `berth-task-${safe(taskId)}`;
}

/** The docker container name of a task's container. */
export function dockerContainerName(taskId: string, container: string): string {
  return `berth-${safe(taskId)}-${safe(container)}`;
}

/** Splits "repo[:tag][@digest]" into the fromImage/tag pair the pull endpoint wants. */
export function parseImageRef(image: string): { fromImage: string; tag: string } {
  const at = image.indexOf('@');
  if (at >= 0) return { fromImage: image.slice(0, at), tag: image.slice(at + 1) };
  const slash = image.lastIndexOf('/');
  const colon = image.lastIndexOf(':');
  if (colon > slash) return { fromImage: image.slice(0, colon), tag: image.slice(colon + 1) };
  return { fromImage: image, tag: 'latest' };
}

/** Finds the file counting OOM kills for a pid's memory cgroup (v2 memory.events or v1 memory.oom_control). */
export function oomFileForPid(pid: number, cgroupRoot = '/sys/fs/cgroup'): string | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const [, controllers, path] = line.split(':');
    if (controllers === undefined || path === undefined) continue;
    if (controllers.split(',').includes('memory')) {
      const f = `${cgroupRoot}/memory${path}/memory.oom_control`;
      if (readable(f)) return f;
    }
  }
  for (const line of text.split('\n')) {
    if (!line.startsWith('0::')) continue;
    const path = line.slice(3);
    for (const root of [cgroupRoot, `${cgroupRoot}/unified`]) {
      const f = `${root}${path}/memory.events`;
      if (readable(f)) return f;
    }
  }
  return undefined;
}

function readable(f: string): boolean {
  try {
    readFileSync(f);
    return true;
  } catch {
    return false;
  }
}

export { parseNs } from './dockerLogs.js';

function parseTime(s: string | undefined): number {
  const t = s ? Date.parse(s) : NaN;
  return Number.isFinite(t) && t > 0 ? t : Date.now();
}

/** Runs ECS containers as Docker containers. */
export class DockerDriver implements Driver {
  readonly name = 'docker';
  /** Containers have a loopback of their own: task role credentials are served on ECS's link-local address. */
  readonly credentialsAddress = ECS_CREDENTIALS_ADDRESS;
  readonly engine: DockerEngine;
  private readonly cgroupRoot: string;
  private readonly oomSeen = new Set<string>();
  private events?: IncomingMessage;

  constructor(opts: DockerDriverOptions = {}) {
    this.engine = new DockerEngine(opts.socketPath);
    this.cgroupRoot = opts.cgroupRoot ?? '/sys/fs/cgroup';
  }

  /** Stops the driver's background event stream (call when the agent shuts down). */
  close(): void {
    this.events?.destroy();
    this.events = undefined;
  }

  /** Listens to the engine's `oom` events for Berth's containers (one stream per driver). */
  private async watchOomEvents(): Promise<void> {
    if (this.events) return;
    const filters = JSON.stringify({ type: ['container'], event: ['oom'], label: ['berth.managed=true'] });
    try {
      const res = await this.engine.raw({ method: 'GET', path: `/events?filters=${enc(filters)}` });
      this.events = res;
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        buf += d;
        const parts = buf.split('\n');
        buf = parts.pop()!;
        for (const p of parts) {
          try {
            const m = JSON.parse(p);
            if (m.id) this.oomSeen.add(m.id);
          } catch {
            /* partial */
          }
        }
      });
      res.on('close', () => {
        if (this.events === res) this.events = undefined;
      });
      res.on('error', () => {});
      // Keep the agent's event loop free to exit: the stream is advisory.
      (res.socket as { unref?: () => void } | null)?.unref?.();
    } catch {
      /* engine down: OOM detection falls back to the other signals */
    }
  }

  async fingerprint(): Promise<Fingerprint> {
    try {
      const info = await this.engine.call('GET', '/info', undefined, { timeoutMs: 5000 });
      return {
        name: this.name,
        available: true,
        capabilities: { memoryLimit: info.MemoryLimit !== false, links: true, images: true, mounts: true },
        cpus: info.NCPU ?? 0,
        memoryMiB: Math.floor((info.MemTotal ?? 0) / MiB),
      };
    } catch (e) {
      return { name: this.name, available: false, detail: `docker engine at ${this.engine.socketPath}: ${(e as Error).message}`, capabilities: { memoryLimit: false, links: false, images: false, mounts: false }, cpus: 0, memoryMiB: 0 };
    }
  }

  async pullImage(image: string, auth?: RegistryAuth): Promise<PullResult> {
    const { fromImage, tag } = parseImageRef(image);
    const byDigest = tag.includes(':');
    // A tag of a registry we have credentials for is pulled every time (it may have moved, as
    // ECS's default pull behaviour has it); anything else only when missing (works offline).
    let present = !auth || byDigest ? await this.engine.callOr404<{ RepoDigests?: string[] }>('GET', `/images/${enc(image)}/json`) : undefined;
    if (!present) {
      // Docker reads the header as padded URL-safe base64 (Go's base64.URLEncoding).
      const headers = auth ? { 'x-registry-auth': Buffer.from(JSON.stringify(auth)).toString('base64').replace(/\+/g, '-').replace(/\//g, '_') } : undefined;
      await this.engine.jsonStream({ method: 'POST', path: `/images/create?fromImage=${enc(fromImage)}&tag=${enc(tag)}`, headers, timeoutMs: 30 * 60_000 });
      present = await this.engine.callOr404<{ RepoDigests?: string[] }>('GET', `/images/${enc(image)}/json`);
    }
    if (byDigest) return { digest: tag };
    const mine = present?.RepoDigests?.find((d) => d.startsWith(`${fromImage}@`));
    return { digest: mine?.slice(fromImage.length + 1) };
  }

  async prepareTask(taskId: string): Promise<void> {
    const name = taskNetworkName(taskId);
    if (await this.engine.callOr404('GET', `/networks/${enc(name)}`)) return;
    try {
      await this.engine.call('POST', '/networks/create', { Name: name, Driver: 'bridge', CheckDuplicate: true, Labels: { 'berth.managed': 'true', 'berth.task-id': taskId } });
    } catch (e) {
      if (!(e instanceof EngineError && e.statusCode === 409)) throw e;
    }
  }

  async cleanupTask(taskId: string): Promise<void> {
    const filters = JSON.stringify({ label: [`berth.task-id=${taskId}`] });
    const left: Array<{ Id: string }> = await this.engine.call('GET', `/containers/json?all=1&filters=${enc(filters)}`);
    for (const c of left) await this.removeContainer(c.Id);
    await removeTaskVolumes(this.engine, taskId);
    try {
      await this.engine.call('DELETE', `/networks/${enc(taskNetworkName(taskId))}`);
    } catch (e) {
      if (!(e instanceof EngineError && e.statusCode === 404)) throw e;
    }
    // Shared networks go with their last container (the engine refuses while one is attached); one
    // created in the last SHARED_NETWORK_GRACE_MS is left alone, for the task about to join it.
    const sharedFilter = JSON.stringify({ label: ['berth.shared=true'] });
    const nets: Array<{ Id: string; Created?: string }> = await this.engine.call('GET', `/networks?filters=${enc(sharedFilter)}`);
    for (const n of nets) {
      if (n.Created && Date.now() - Date.parse(n.Created) < SHARED_NETWORK_GRACE_MS) continue;
      // Containers that have stopped are being removed by their own task's cleanup: wait for them (bounded).
      for (let attempt = 0; attempt < SHARED_NETWORK_WAIT_ROUNDS; attempt++) {
        const net: { Containers?: Record<string, unknown> } | undefined = await this.engine.callOr404('GET', `/networks/${enc(n.Id)}`);
        if (!net) break;
        const attached = Object.keys(net.Containers ?? {});
        if (!attached.length) {
          await this.engine.call('DELETE', `/networks/${enc(n.Id)}`).catch(() => undefined);
          break;
        }
        const states = await Promise.all(attached.map((id) => this.engine.callOr404('GET', `/containers/${enc(id)}/json`).then((c: { State?: { Running?: boolean } } | undefined) => c?.State?.Running === true)));
        if (states.some(Boolean)) break;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  /** Creates a shared network (see SHARED_NETWORK_LABEL) unless it exists. */
  private async ensureSharedNetwork(name: string): Promise<void> {
    if (await this.engine.callOr404('GET', `/networks/${enc(name)}`)) return;
    try {
      await this.engine.call('POST', '/networks/create', { Name: name, Driver: 'bridge', CheckDuplicate: true, Labels: { 'berth.managed': 'true', 'berth.shared': 'true' } });
    } catch (e) {
      if (!(e instanceof EngineError && e.statusCode === 409)) throw e;
    }
  }

  private async removeContainer(id: string): Promise<void> {
    try {
      await this.engine.call('DELETE', `/containers/${enc(id)}?force=1&v=1`);
    } catch (e) {
      if (e instanceof EngineError && e.statusCode === 404) return;
      if (e instanceof EngineError && e.statusCode === 409 && /already in progress/.test(e.message)) return;
      throw e;
    }
  }

  private createBody(req: StartRequest, bindings: Awaited<ReturnType<typeof assignPorts>>, mounts: Record<string, unknown>): Record<string, unknown> {
    const c: ContainerSpec = req.container;
    const mode = c.networkMode ?? 'bridge';
    const hostNet = mode === 'host';
    const noNet = mode === 'none';
    const shared = sharedNetworkOf(c);
    const ownNetwork = !shared && usesTaskNetwork(req);
    const network = hostNet ? 'host' : noNet ? 'none' : shared ?? (ownNetwork ? taskNetworkName(req.taskId) : 'bridge');
    const exposed: Record<string, object> = {};
    const portBindings: Record<string, Array<{ HostPort: string }>> = {};
    for (const b of bindings) {
      const key = `${b.containerPort}/${b.protocol}`;
      exposed[key] = {};
      (portBindings[key] ??= []).push({ HostPort: String(b.hostPort) });
    }
    const labels: Record<string, string> = { ...(c.dockerLabels ?? {}), 'berth.managed': 'true', 'berth.task-id': req.taskId, 'berth.container-name': c.name };
    if (req.taskArn) labels['berth.task-arn'] = req.taskArn;
    const hostConfig: Record<string, unknown> = {
      NetworkMode: network,
      PortBindings: hostNet ? undefined : portBindings,
      ReadonlyRootfs: !!c.readonlyRootFilesystem,
      Ulimits: c.ulimits?.map((u) => ({ Name: u.name, Soft: u.softLimit, Hard: u.hardLimit })),
      ...mounts,
    };
    if (c.memory) {
      hostConfig.Memory = c.memory * MiB;
      hostConfig.MemorySwap = c.memory * MiB;
    }
    if (c.memoryReservation) hostConfig.MemoryReservation = c.memoryReservation * MiB;
    if (c.cpu) hostConfig.CpuShares = Math.max(2, c.cpu);
    const body: Record<string, unknown> = {
      Image: c.image,
      Env: Object.entries(c.environment ?? {}).map(([k, v]) => `${k}=${v}`),
      Labels: labels,
      ExposedPorts: hostNet ? undefined : exposed,
      HostConfig: hostConfig,
      Tty: false,
      AttachStdout: false,
      AttachStderr: false,
    };
    if (c.entryPoint) body.Entrypoint = c.entryPoint;
    if (c.command) body.Cmd = c.command;
    if (c.workingDirectory) body.WorkingDir = c.workingDirectory;
    if (c.user) body.User = c.user;
    if (c.hostname && !hostNet) body.Hostname = c.hostname;
    if (ownNetwork || shared) {
      const extra = shared ? (c.dockerLabels?.[SHARED_NETWORK_ALIASES_LABEL] ?? '').split(',').map((a) => a.trim()).filter(Boolean) : [];
      const aliases = [...new Set([c.name, ...(c.hostname ? [c.hostname] : []), ...(req.aliases ?? []), ...extra])];
      body.NetworkingConfig = { EndpointsConfig: { [network]: { Aliases: aliases } } };
    }
    return body;
  }

  async start(req: StartRequest): Promise<DriverHandle> {
    const c = req.container;
    void this.watchOomEvents();
    const shared = sharedNetworkOf(c);
    if (shared) await this.ensureSharedNetwork(shared);
    else if (usesTaskNetwork(req)) await this.prepareTask(req.taskId);
    const name = dockerContainerName(req.taskId, c.name);
    await this.removeContainer(name);
    const mounts = await prepareMounts(this.engine, req.taskId, c, (other) => dockerContainerName(req.taskId, other));
    for (let attempt = 0; ; attempt++) {
      const bindings = await assignPorts(c.portMappings, c.networkMode);
      const created: { Id: string } = await this.engine.call('POST', `/containers/create?name=${enc(name)}`, this.createBody(req, bindings, mounts));
      try {
        await this.engine.call('POST', `/containers/${created.Id}/start`);
      } catch (e) {
        await this.removeContainer(created.Id);
        // A port we found free was taken before the engine bound it: pick again.
        if (attempt < 3 && /port is already allocated|address already in use/i.test((e as Error).message)) continue;
        throw e;
      }
      const info = await this.engine.call('GET', `/containers/${created.Id}/json`);
      const pid: number = info.State?.Pid ?? 0;
      const state: DockerState = { containerId: created.Id, containerName: name, oomFile: pid ? oomFileForPid(pid, this.cgroupRoot) : undefined };
      return {
        driver: this.name,
        taskId: req.taskId,
        containerName: c.name,
        id: created.Id,
        networkBindings: (c.networkMode ?? 'bridge') === 'host' ? (c.portMappings ?? []).map((m) => ({ bindIP: '0.0.0.0', containerPort: m.containerPort, hostPort: m.hostPort || m.containerPort, protocol: m.protocol ?? 'tcp' })) : bindings,
        startedAt: parseTime(info.State?.StartedAt),
        state: state as unknown as Record<string, unknown>,
      };
    }
  }

  private st(h: DriverHandle): DockerState {
    return h.state as unknown as DockerState;
  }

  private exitFrom(info: any, oomCount = 0): ExitInfo {
    const code: number = info.State?.ExitCode ?? -1;
    const signal = code > 128 ? Object.keys(SIGNAL_NUMBERS).find((k) => SIGNAL_NUMBERS[k] === code - 128) : undefined;
    const oomKilled = !!info.State?.OOMKilled || this.oomSeen.has(info.Id) || (code === 137 && oomCount > 0);
    return { code, signal, oomKilled, finishedAt: parseTime(info.State?.FinishedAt) };
  }

  async wait(h: DriverHandle, opts: { signal?: AbortSignal } = {}): Promise<ExitInfo> {
    const s = this.st(h);
    opts.signal?.throwIfAborted();
    void this.watchOomEvents();
    let oomCount = readOomKills(s.oomFile);
    // Sample the cgroup's OOM counter while the container runs: the cgroup vanishes with it.
    const sample = () => (oomCount = Math.max(oomCount, readOomKills(s.oomFile)));
    const poll = s.oomFile ? setInterval(sample, 100) : undefined;
    // cgroup v2 event files notify on change, which catches a kill right before the cgroup goes.
    let watcher: FSWatcher | undefined;
    try {
      if (s.oomFile) watcher = watch(s.oomFile, sample);
      watcher?.on('error', () => {});
    } catch {
      /* not watchable (cgroup v1): polling only */
    }
    try {
      for (;;) {
        try {
          await this.engine.call('POST', `/containers/${s.containerId}/wait?condition=not-running`, undefined, { timeoutMs: 0, signal: opts.signal });
          break;
        } catch (e) {
          opts.signal?.throwIfAborted();
          if (e instanceof EngineError && e.statusCode === 404) return { code: -1, oomKilled: false, finishedAt: Date.now(), unknown: true };
          if (e instanceof EngineError) throw e;
          await sleep(500); // connection dropped: the container may still run
        }
      }
      oomCount = Math.max(oomCount, readOomKills(s.oomFile));
      const info = await this.engine.callOr404('GET', `/containers/${s.containerId}/json`);
      if (!info) return { code: -1, oomKilled: false, finishedAt: Date.now(), unknown: true };
      if (info.State?.ExitCode === 137 && !info.State?.OOMKilled && oomCount === 0) await sleep(200); // let a late oom event arrive
      return this.exitFrom(info, oomCount);
    } finally {
      clearInterval(poll);
      watcher?.close();
    }
  }

  async stop(h: DriverHandle, timeoutMs: number): Promise<void> {
    const s = this.st(h);
    const secs = Math.max(0, Math.ceil(timeoutMs / 1000));
    try {
      await this.engine.call('POST', `/containers/${s.containerId}/stop?t=${secs}`, undefined, { timeoutMs: secs * 1000 + 60_000 });
    } catch (e) {
      if (e instanceof EngineError && (e.statusCode === 304 || e.statusCode === 404)) return;
      throw e;
    }
  }

  async destroy(h: DriverHandle): Promise<void> {
    await this.removeContainer(this.st(h).containerId);
  }

  async inspect(h: DriverHandle): Promise<InspectResult> {
    const info = await this.engine.callOr404('GET', `/containers/${this.st(h).containerId}/json`);
    if (!info) return { running: false, id: h.id, exit: { code: -1, oomKilled: false, finishedAt: Date.now(), unknown: true } };
    const running = !!info.State?.Running;
    const hs = info.State?.Health?.Status;
    return { running, pid: info.State?.Pid || undefined, id: info.Id, health: hs === 'starting' || hs === 'healthy' || hs === 'unhealthy' ? hs : undefined, exit: running ? undefined : this.exitFrom(info) };
  }

  /**
   * The engine's one-shot stats (`GET /containers/<id>/stats?stream=false&one-shot=true`): CPU
   * time from cpu_usage.total_usage (ns), memory as `docker stats` counts it (usage less inactive
   * file pages). Undefined for a container that is gone or not running.
   */
  async stats(h: DriverHandle): Promise<ContainerStats | undefined> {
    const st = await this.engine.call<any>('GET', `/containers/${this.st(h).containerId}/stats?stream=false&one-shot=true`, undefined, { timeoutMs: 5_000 }).catch(() => undefined);
    const cpuNs = Number(st?.cpu_stats?.cpu_usage?.total_usage);
    const usage = Number(st?.memory_stats?.usage);
    if (!st || !Number.isFinite(cpuNs) || !Number.isFinite(usage) || !st.pids_stats?.current) return undefined;
    const m = st.memory_stats.stats ?? {};
    const inactive = Number(m.inactive_file ?? m.total_inactive_file ?? 0) || 0;
    return { cpuTimeMs: Math.floor(cpuNs / 1e6), memoryBytes: Math.max(0, usage - inactive) };
  }

  async recover(h: DriverHandle): Promise<RecoverResult> {
    void this.watchOomEvents();
    let info = await this.engine.callOr404('GET', `/containers/${this.st(h).containerId}/json`);
    if (!info) {
      const filters = JSON.stringify({ label: [`berth.task-id=${h.taskId}`, `berth.container-name=${h.containerName}`] });
      const found: Array<{ Id: string }> = await this.engine.call('GET', `/containers/json?all=1&filters=${enc(filters)}`);
      if (found[0]) info = await this.engine.callOr404('GET', `/containers/${found[0].Id}/json`);
    }
    if (!info) return { status: 'exited', handle: h, exit: { code: -1, oomKilled: false, finishedAt: Date.now(), unknown: true } };
    const handle: DriverHandle = { ...h, id: info.Id, state: { ...h.state, containerId: info.Id } };
    if (info.State?.Running) {
      if (!this.st(handle).oomFile && info.State.Pid) handle.state.oomFile = oomFileForPid(info.State.Pid, this.cgroupRoot);
      return { status: 'running', handle };
    }
    return { status: 'exited', handle, exit: this.exitFrom(info) };
  }

  /**
   * Follows `/containers/<id>/logs?follow&timestamps` (see ./dockerLogs.ts for the cursor). A
   * follow answer that ends while the container still runs (a dropped connection, an engine
   * restart) is not the end of its output: the stream is opened again from the cursor. Once the
   * container has stopped, the output is read once more to its end (the engine can end a follow
   * answer before it has stored a last line without newline) and `onEnd` fires.
   */
  logs(h: DriverHandle, onLine: (l: DriverLogLine) => void, opts: LogsOptions = {}): Subscription {
    const id = this.st(h).containerId;
    let closed = false;
    let res: IncomingMessage | undefined;
    const position = parseLogCursor(opts.after);
    const path = (follow: boolean) => {
      const since = sinceSeconds(position);
      return `/containers/${id}/logs?stdout=1&stderr=1&timestamps=1${follow ? '&follow=1' : ''}${since !== undefined ? `&since=${since}` : ''}`;
    };
    /** Reads one answer; resolves with whether it was a log stream read to its end. */
    const pass = async (follow: boolean): Promise<'read' | 'gone' | 'failed'> => {
      let r: IncomingMessage;
      try {
        r = await this.engine.raw({ method: 'GET', path: path(follow) });
      } catch {
        return 'failed';
      }
      res = r;
      if (closed) {
        r.destroy();
        return 'failed';
      }
      if ((r.statusCode ?? 500) >= 300) {
        await readAll(r).catch(() => '');
        return r.statusCode === 404 ? 'gone' : 'failed';
      }
      const p = new DockerLogPass(position, (l) => {
        if (!closed) onLine(l);
      });
      const demux = new Demuxer((stream, data) => p.frame(stream, data));
      const complete = await new Promise<boolean>((resolve) => {
        r.on('data', (d: Buffer) => demux.push(d));
        r.on('end', () => resolve(true));
        r.on('error', () => resolve(false));
        r.on('close', () => resolve(r.complete));
      });
      p.end(!follow && complete);
      return complete ? 'read' : 'failed';
    };
    void (async () => {
      let backoff = 100;
      for (;;) {
        const began = Date.now();
        const got = await pass(true);
        if (closed) return;
        if (got === 'gone') break;
        let state: 'running' | 'stopped' | 'unknown';
        try {
          const info = await this.engine.callOr404('GET', `/containers/${id}/json`);
          state = !info ? 'stopped' : info.State?.Running ? 'running' : 'stopped';
        } catch {
          state = 'unknown'; // the engine is away (restarting): try again
        }
        if (closed) return;
        if (state === 'stopped') {
          // The last look: read to the end, a last line without newline included.
          for (let attempt = 0; attempt < 5 && !closed; attempt++) {
            const last = await pass(false);
            if (last !== 'failed') break;
            await sleep(200 * (attempt + 1));
          }
          break;
        }
        // Still running (or the engine unreachable): follow again from the cursor, not in a hot loop.
        backoff = got === 'read' && Date.now() - began > 1000 ? 100 : Math.min(backoff * 2, 2000);
        await sleep(backoff);
      }
      if (!closed) opts.onEnd?.();
      closed = true;
    })();
    return {
      close: () => {
        closed = true;
        res?.destroy();
      },
    };
  }

  async exec(h: DriverHandle, cmd: string[], timeoutMs: number): Promise<ExecResult> {
    const id = this.st(h).containerId;
    let ex: { Id: string };
    try {
      ex = await this.engine.call('POST', `/containers/${id}/exec`, { AttachStdout: true, AttachStderr: true, Cmd: cmd });
    } catch (e) {
      return { exitCode: 126, output: (e as Error).message, timedOut: false };
    }
    const res = await this.engine.raw({ method: 'POST', path: `/exec/${ex.Id}/start`, body: { Detach: false, Tty: false } });
    let output = '';
    const demux = new Demuxer((_s, d) => {
      if (output.length < 65536) output += d.toString('utf8');
    });
    const timedOut = await new Promise<boolean>((resolve) => {
      const t = setTimeout(() => {
        res.destroy();
        resolve(true);
      }, timeoutMs);
      res.on('data', (d: Buffer) => demux.push(d));
      res.on('end', () => {
        clearTimeout(t);
        resolve(false);
      });
      res.on('error', () => {
        clearTimeout(t);
        resolve(false);
      });
    });
    if (timedOut) return { exitCode: 124, output, timedOut: true };
    const info = await this.engine.call('GET', `/exec/${ex.Id}/json`);
    return { exitCode: info.ExitCode ?? 1, output, timedOut: false };
  }
}
