/**
 * The process driver: runs a container's entryPoint+command as a plain host process (no image,
 * no isolation beyond an optional memory cgroup). Each container gets a directory
 * <dataDir>/<taskId>/<container> holding the supervisor's files (see processSupervisor.ts), so
 * processes, their output and their exit codes survive an agent restart.
 *
 * Ports: the process must listen on the host port it is given: `PORT` (first mapping) and
 * `PORT_<containerPort>` for each mapping. Memory: with a writable cgroup v2 (memory controller)
 * or cgroup v1 memory hierarchy, `memory` (MiB) becomes the hard limit and OOM kills are detected
 * from the cgroup's oom_kill counter; otherwise the limit is not enforced (fingerprint reports
 * capabilities.memoryLimit=false). ulimits nofile, core, fsize, cpu, stack, data and memlock are
 * applied through the shell's `ulimit` (others are rejected at start). The image, links, hostname,
 * cpu, readonlyRootFilesystem and logConfiguration are ignored by this driver.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmdirSync, readFileSync, rmSync, writeFileSync, openSync, readSync, closeSync, statSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import type { ContainerSpec } from '../types.js';
import type { ContainerStats, Driver, DriverHandle, DriverLogLine, ExecResult, ExitInfo, Fingerprint, InspectResult, LogsOptions, PullResult, RecoverResult, StartRequest, Subscription } from './driver.js';
import { assignPorts } from './ports.js';
import { procStartTime, readOomKills, type SupervisorSpec } from './processSupervisor.js';
import { SupervisorClient } from './supervisorClient.js';

/**
 * ECS ulimit names the process driver applies, as [POSIX sh `ulimit` flag, unit divisor]: ECS
 * (like Docker) gives raw setrlimit values; the shell takes KiB for sizes and 512-byte blocks for
 * core/fsize.
 */
const ULIMIT_FLAGS: Record<string, [string, number]> = { nofile: ['n', 1], core: ['c', 512], fsize: ['f', 512], cpu: ['t', 1], stack: ['s', 1024], data: ['d', 1024], memlock: ['l', 1024] };

/** How often a container's output file is read, and its exit files looked at when no exit notice can come (see exitCheckTicks). */
const POLL_MS = 50;
/**
 * With the supervisor's exit notice on its way, the exit files are still looked at every this
 * many polls (a notice sent while the connection was down is not sent again).
 */
const NOTIFIED_EXIT_CHECK_EVERY = 10;

/** Options of the process driver. */
export interface ProcessDriverOptions {
  /** Where container directories live; must survive agent restarts. Default: <tmpdir>/berth-process-driver. */
  dataDir?: string;
  /** Root of the cgroup hierarchy to use; default /sys/fs/cgroup. Set to '' to disable cgroups. */
  cgroupRoot?: string;
}

interface CgroupPaths {
  version: 1 | 2;
  dir: string;
  oomFile: string;
}

interface ProcState {
  dir: string;
  supervisorPid: number;
  supervisorStart?: number;
  pid: number;
  pidStart?: number;
  cgroupDir?: string;
  oomFile?: string;
  cwd: string;
  uid?: number;
  gid?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function alive(pid: number, start: number | undefined): boolean {
  const now = procStartTime(pid);
  return now !== undefined && (start === undefined || now === start);
}

function readJson<T>(path: string): T | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** Kernel clock ticks per second of /proc/<pid>/stat's times (USER_HZ: 100 on every Linux ABI Node runs on). */
const CLOCK_TICKS_PER_SECOND = 100;

/** A file's text, or undefined when it cannot be read. */
function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * CPU time and memory of a container: from its cgroup (v2 `cpu.stat` usage_usec, `memory.current`
 * less inactive file pages) when it has one, else from /proc: the process's utime+stime plus its
 * waited-for children's, and its VmRSS.
 */
export function processStats(pid: number, start: number | undefined, cgroupDir: string | undefined): ContainerStats | undefined {
  if (cgroupDir) {
    const usec = /^usage_usec (\d+)$/m.exec(readText(join(cgroupDir, 'cpu.stat')) ?? '');
    const current = Number(readText(join(cgroupDir, 'memory.current'))?.trim());
    const inactive = Number(/^inactive_file (\d+)$/m.exec(readText(join(cgroupDir, 'memory.stat')) ?? '')?.[1] ?? 0);
    if (usec && Number.isFinite(current)) return { cpuTimeMs: Math.floor(Number(usec[1]) / 1000), memoryBytes: Math.max(0, current - inactive) };
  }
  if (!alive(pid, start)) return undefined;
  const stat = readText(`/proc/${pid}/stat`);
  const status = readText(`/proc/${pid}/status`);
  if (stat === undefined || status === undefined) return undefined;
  // Fields after the command (which may hold spaces and parentheses): state is field 3, utime 14 ... cstime 17.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + (Number(f[i]) || 0), 0);
  const rssKb = Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1] ?? 0);
  return { cpuTimeMs: Math.floor((ticks * 1000) / CLOCK_TICKS_PER_SECOND), memoryBytes: rssKb * 1024 };
}

/** The environment of a running process (/proc/<pid>/environ), or undefined if unreadable. */
function environOf(pid: number): Record<string, string> | undefined {
  try {
    const env: Record<string, string> = {};
    for (const kv of readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')) {
      const i = kv.indexOf('=');
      if (i > 0) env[kv.slice(0, i)] = kv.slice(i + 1);
    }
    return env;
  } catch {
    return undefined;
  }
}

/** Resolves an ECS `user` ("uid", "uid:gid", "name", "name:group") against /etc/passwd and /etc/group. */
export function resolveUser(user: string): { uid: number; gid: number } {
  const [u, g] = user.split(':');
  const passwd = existsSync('/etc/passwd') ? readFileSync('/etc/passwd', 'utf8').split('\n').map((l) => l.split(':')) : [];
  const groups = existsSync('/etc/group') ? readFileSync('/etc/group', 'utf8').split('\n').map((l) => l.split(':')) : [];
  let uid: number;
  let gid: number | undefined;
  if (/^\d+$/.test(u!)) {
    uid = Number(u);
    const row = passwd.find((r) => r[2] === u);
    gid = row ? Number(row[3]) : uid;
  } else {
    const row = passwd.find((r) => r[0] === u);
    if (!row) throw new Error(`unknown user ${u}`);
    uid = Number(row[2]);
    gid = Number(row[3]);
  }
  if (g !== undefined) {
    if (/^\d+$/.test(g)) gid = Number(g);
    else {
      const row = groups.find((r) => r[0] === g);
      if (!row) throw new Error(`unknown group ${g}`);
      gid = Number(row[2]);
    }
  }
  return { uid, gid: gid! };
}

function safeName(s: string): string {
  return s.replace(/[^A-Za-z0-9_.-]/g, '_');
}

/** Runs containers as host processes. */
export class ProcessDriver implements Driver {
  readonly name = 'process';
  readonly dataDir: string;
  private readonly cgroupRoot: string;
  private readonly supervisor: SupervisorClient;

  constructor(opts: ProcessDriverOptions = {}) {
    this.dataDir = opts.dataDir ?? join(tmpdir(), 'berth-process-driver');
    this.cgroupRoot = opts.cgroupRoot ?? '/sys/fs/cgroup';
    this.supervisor = new SupervisorClient(this.dataDir);
  }

  /** Creates a memory cgroup for a container, or returns undefined when cgroups are not usable. */
  private makeCgroup(name: string, memoryMiB: number): CgroupPaths | undefined {
    if (!this.cgroupRoot) return undefined;
    const bytes = String(memoryMiB * 1024 * 1024);
    try {
      if (existsSync(join(this.cgroupRoot, 'cgroup.controllers'))) {
        const parent = join(this.cgroupRoot, 'berth');
        mkdirSync(parent, { recursive: true });
        if (!readFileSync(join(parent, 'cgroup.subtree_control'), 'utf8').includes('memory')) writeFileSync(join(parent, 'cgroup.subtree_control'), '+memory');
        const dir = join(parent, name);
        mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, 'memory.max'), bytes);
        try {
          writeFileSync(join(dir, 'memory.swap.max'), '0');
        } catch {
          /* no swap accounting */
        }
        return { version: 2, dir, oomFile: join(dir, 'memory.events') };
      }
      const v1 = join(this.cgroupRoot, 'memory');
      if (existsSync(join(v1, 'memory.limit_in_bytes'))) {
        const dir = join(v1, 'berth', name);
        mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, 'memory.limit_in_bytes'), bytes);
        try {
          writeFileSync(join(dir, 'memory.memsw.limit_in_bytes'), bytes);
        } catch {
          /* no swap accounting */
        }
        return { version: 1, dir, oomFile: join(dir, 'memory.oom_control') };
      }
    } catch {
      return undefined;
    }
    return undefined;
  }

  async fingerprint(): Promise<Fingerprint> {
    const probe = this.makeCgroup(`probe-${process.pid}`, 64);
    if (probe) rmdirQuiet(probe.dir);
    // The agent fingerprints when it registers: have the supervisor up before the first task comes.
    void this.supervisor.connect().catch(() => undefined);
    return {
      name: this.name,
      available: true,
      capabilities: { memoryLimit: !!probe, links: false, images: false, mounts: false },
      cpus: cpus().length,
      memoryMiB: Math.floor(totalmem() / 1024 / 1024),
    };
  }

  /** The container's CPU time and memory (its cgroup's, else its process's from /proc). */
  async stats(h: DriverHandle): Promise<ContainerStats | undefined> {
    const s = this.st(h);
    return processStats(s.pid, s.pidStart, s.cgroupDir);
  }

  /** Lets go of the supervisor's connection; containers keep running (see processSupervisor.ts). */
  close(): void {
    this.supervisor.close();
  }

  async pullImage(): Promise<PullResult> {
    return {};
  }
  async prepareTask(): Promise<void> {}
  async cleanupTask(taskId: string): Promise<void> {
    rmSync(join(this.dataDir, safeName(taskId)), { recursive: true, force: true });
  }

  async start(req: StartRequest): Promise<DriverHandle> {
    const c: ContainerSpec = req.container;
    const argv = [...(c.entryPoint ?? []), ...(c.command ?? [])];
    if (argv.length === 0) throw new Error(`container ${c.name}: the process driver needs an entryPoint or command`);
    if (c.mounts?.length || c.volumesFrom?.length) throw new Error(`container ${c.name}: the process driver cannot mount volumes (mountPoints / volumesFrom): run this task on a docker-driver instance`);
    const dir = join(this.dataDir, safeName(req.taskId), safeName(c.name));
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const bindings = await assignPorts(c.portMappings, c.networkMode);
    const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', HOME: '/root', HOSTNAME: c.hostname ?? c.name };
    if (bindings[0]) env.PORT = String(bindings[0].hostPort);
    for (const b of bindings) env[`PORT_${b.containerPort}`] = String(b.hostPort);
    Object.assign(env, c.environment ?? {});
    const cwd = c.workingDirectory ?? dir;
    let uid: number | undefined;
    let gid: number | undefined;
    if (c.user) {
      const r = resolveUser(c.user);
      if (process.getuid?.() === 0) ({ uid, gid } = r);
      else if (r.uid !== process.getuid?.()) throw new Error(`container ${c.name}: cannot run as user ${c.user} without root`);
    }
    const cg = c.memory ? this.makeCgroup(`${safeName(req.taskId)}-${safeName(c.name)}`, c.memory) : undefined;
    const ulimits = (c.ulimits ?? []).map((u): [string, number, number] => {
      const m = ULIMIT_FLAGS[u.name];
      if (!m) throw new Error(`container ${c.name}: the process driver does not support ulimit ${u.name}`);
      return [m[0], Math.floor(u.softLimit / m[1]), Math.floor(u.hardLimit / m[1])];
    });
    const spec: SupervisorSpec = { argv, env, cwd, uid, gid, cgroupDir: cg?.dir, oomFile: cg?.oomFile, ulimits };
    // The spec goes over the supervisor's socket: the environment may hold secrets and must not touch the disk.
    let child: { pid: number; startTime?: number; supervisorPid: number };
    try {
      child = await this.supervisor.start(dir, spec);
    } catch (e) {
      if (cg) rmdirQuiet(cg.dir);
      throw new Error(`container ${c.name}: ${(e as Error).message}`);
    }
    const state: ProcState = { dir, supervisorPid: child.supervisorPid, supervisorStart: procStartTime(child.supervisorPid), pid: child.pid, pidStart: child.startTime, cgroupDir: cg?.dir, oomFile: cg?.oomFile, cwd, uid, gid };
    return { driver: this.name, taskId: req.taskId, containerName: c.name, id: String(child.pid), networkBindings: bindings, startedAt: Date.now(), state: state as unknown as Record<string, unknown> };
  }

  private st(h: DriverHandle): ProcState {
    return h.state as unknown as ProcState;
  }

  /** The exit if known now: exit.json, or "vanished" when neither the process nor its supervisor lives. */
  private exitNow(h: DriverHandle): ExitInfo | undefined {
    const s = this.st(h);
    const e = readJson<ExitInfo>(join(s.dir, 'exit.json'));
    if (e) return { code: e.code, signal: e.signal, oomKilled: !!e.oomKilled, finishedAt: e.finishedAt };
    if (!alive(s.supervisorPid, s.supervisorStart) && !alive(s.pid, s.pidStart)) {
      // A last look: the supervisor may have written the file just before we checked liveness.
      const e2 = readJson<ExitInfo>(join(s.dir, 'exit.json'));
      if (e2) return { code: e2.code, signal: e2.signal, oomKilled: !!e2.oomKilled, finishedAt: e2.finishedAt };
      return { code: -1, oomKilled: readOomKills(s.oomFile) > 0, finishedAt: Date.now(), unknown: true };
    }
    return undefined;
  }

  async wait(h: DriverHandle, opts: { signal?: AbortSignal } = {}): Promise<ExitInfo> {
    for (;;) {
      opts.signal?.throwIfAborted();
      const e = this.exitNow(h);
      if (e) return e;
      await this.exitOrTimeout(h, POLL_MS * this.exitCheckTicks(h), opts.signal);
    }
  }

  /** Resolves when the supervisor says the container exited, after `ms`, or on abort, whichever is first. */
  private exitOrTimeout(h: DriverHandle, ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        off();
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      const off = this.supervisor.onExit(this.st(h).dir, done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  private signal(h: DriverHandle, sig: NodeJS.Signals): void {
    const s = this.st(h);
    if (!alive(s.pid, s.pidStart)) return;
    try {
      process.kill(-s.pid, sig);
    } catch {
      try {
        process.kill(s.pid, sig);
      } catch {
        /* already gone */
      }
    }
  }

  async stop(h: DriverHandle, timeoutMs: number): Promise<void> {
    if (this.exitNow(h)) return;
    this.signal(h, 'SIGTERM');
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.exitNow(h)) return;
      await this.exitOrTimeout(h, Math.min(POLL_MS, Math.max(1, deadline - Date.now())));
    }
    this.signal(h, 'SIGKILL');
    await this.wait(h);
  }

  async destroy(h: DriverHandle): Promise<void> {
    const s = this.st(h);
    if (!this.exitNow(h)) {
      this.signal(h, 'SIGKILL');
      const deadline = Date.now() + 5000;
      while (!this.exitNow(h) && Date.now() < deadline) await sleep(POLL_MS);
    }
    if (s.cgroupDir) rmdirQuiet(s.cgroupDir);
    rmSync(s.dir, { recursive: true, force: true });
  }

  async inspect(h: DriverHandle): Promise<InspectResult> {
    const s = this.st(h);
    const exit = this.exitNow(h);
    return { running: !exit && alive(s.pid, s.pidStart), pid: s.pid, id: h.id, exit };
  }

  async recover(h: DriverHandle): Promise<RecoverResult> {
    const s = this.st(h);
    // The process may have just exited with the supervisor about to write exit.json: give it a moment.
    for (let i = 0; i < 40; i++) {
      const exit = this.exitNow(h);
      if (exit) return { status: 'exited', handle: h, exit };
      if (alive(s.pid, s.pidStart)) return { status: 'running', handle: h };
      await sleep(POLL_MS);
    }
    return { status: 'exited', handle: h, exit: { code: -1, oomKilled: false, finishedAt: Date.now(), unknown: true } };
  }

  /**
   * Follows `output.log`. A line's cursor is the decimal byte offset just past its record (the
   * record's newline), so resuming is a seek; a cursor that does not point just past a newline
   * of the file is not one of ours and reading starts over. Records are split on bytes and each
   * decoded whole, so a UTF-8 character is never cut by a read boundary; a record that does not
   * parse (the file damaged) is skipped, never fatal.
   */
  logs(h: DriverHandle, onLine: (l: DriverLogLine) => void, opts: LogsOptions = {}): Subscription {
    const file = join(this.st(h).dir, 'output.log');
    /** Offset of the first byte not yet part of a delivered record, and the bytes read past it. */
    let offset = parseOffsetCursor(file, opts.after);
    let pending: Buffer = Buffer.alloc(0);
    let closed = false;
    const buf = Buffer.alloc(64 * 1024);
    const drain = (): void => {
      // One stat per tick; the file is opened only when it has grown.
      const size = statSync(file, { throwIfNoEntry: false })?.size ?? 0;
      let readPos = offset + pending.length;
      if (size <= readPos) return;
      let fd: number;
      try {
        fd = openSync(file, 'r');
      } catch {
        return;
      }
      try {
        while (readPos < size && !closed) {
          const n = readSync(fd, buf, 0, Math.min(buf.length, size - readPos), readPos);
          if (n <= 0) break;
          readPos += n;
          const chunk = pending.length ? Buffer.concat([pending, buf.subarray(0, n)]) : buf.subarray(0, n);
          let from = 0;
          for (let nl = chunk.indexOf(0x0a); nl >= 0 && !closed; nl = chunk.indexOf(0x0a, from)) {
            const record = parseOutputRecord(chunk.subarray(from, nl));
            from = nl + 1;
            const cursor = String(offset + from);
            if (record) onLine({ stream: record.s, timestamp: record.t, line: record.l, cursor });
          }
          offset += from;
          // Copied: `buf` is reused by the next read.
          pending = Buffer.from(chunk.subarray(from));
        }
      } finally {
        closeSync(fd);
      }
    };
    // The end of the output is the container's exit: told by the supervisor, else looked for every exitCheckTicks() polls.
    let exitNotified = false;
    const off = this.supervisor.onExit(this.st(h).dir, () => {
      exitNotified = true;
      clearTimeout(timer);
      timer = setTimeout(tick, 0);
    });
    let ticks = 0;
    const tick = (): void => {
      if (closed) return;
      // The end: the container exited (its record says so), or it was destroyed (its directory, output included, is gone).
      const exited = (exitNotified || ticks++ % this.exitCheckTicks(h) === 0) && (!!this.exitNow(h) || !existsSync(this.st(h).dir));
      drain();
      if (exited) {
        closed = true;
        off();
        opts.onEnd?.();
        return;
      }
      timer = setTimeout(tick, POLL_MS);
    };
    let timer = setTimeout(tick, 0);
    return {
      close: () => {
        closed = true;
        off();
        clearTimeout(timer);
      },
    };
  }

  /**
   * How many output polls go by between looks at the exit files: few when the supervisor that
   * runs the container is not the one connected (no exit notice will come), many otherwise.
   */
  private exitCheckTicks(h: DriverHandle): number {
    return this.st(h).supervisorPid === this.supervisor.pid ? NOTIFIED_EXIT_CHECK_EVERY : 1;
  }

  /**
   * A mapped TCP host port nothing listens on (read from /proc/net/tcp and tcp6): the process
   * must listen where PORT / PORT_<containerPort> say, and a program written for a container
   * engine often listens on its containerPort instead. Undefined when every port has a listener,
   * or when the socket tables cannot be read.
   */
  async diagnose(h: DriverHandle): Promise<string | undefined> {
    const tcp = h.networkBindings.filter((b) => b.protocol === 'tcp');
    if (tcp.length === 0) return undefined;
    const listening = listeningTcpPorts();
    if (!listening) return undefined;
    const missing = tcp.find((b) => !listening.has(b.hostPort));
    if (!missing) return undefined;
    const vars = missing === h.networkBindings[0] ? `PORT / PORT_${missing.containerPort}` : `PORT_${missing.containerPort}`;
    return `nothing listens on host port ${missing.hostPort}: the process driver passes the port in ${vars}; this container may be listening on its containerPort ${missing.containerPort} instead`;
  }

  exec(h: DriverHandle, cmd: string[], timeoutMs: number): Promise<ExecResult> {
    const s = this.st(h);
    // The environment is read from the live process rather than kept in the (persisted) handle.
    return runCommand(cmd, { env: environOf(s.pid) ?? { PATH: process.env.PATH ?? '/usr/bin:/bin' }, cwd: existsSync(s.cwd) ? s.cwd : '/', uid: s.uid, gid: s.gid }, timeoutMs);
  }
}

/** One record of output.log, or undefined when the bytes are not one (a damaged file). */
function parseOutputRecord(bytes: Buffer): { t: number; s: 'stdout' | 'stderr'; l: string } | undefined {
  if (bytes.length === 0) return undefined;
  try {
    const r = JSON.parse(bytes.toString('utf8')) as { t?: unknown; s?: unknown; l?: unknown } | null;
    if (!r || typeof r.t !== 'number' || !Number.isFinite(r.t) || (r.s !== 'stdout' && r.s !== 'stderr') || typeof r.l !== 'string') return undefined;
    return { t: r.t, s: r.s, l: r.l };
  } catch {
    return undefined;
  }
}

/**
 * Where reading output.log resumes for a cursor: its offset when it is one of ours (decimal, and
 * 0 or just past a newline of the file), else 0 (from the first line).
 */
function parseOffsetCursor(file: string, cursor: string | undefined): number {
  if (cursor === undefined || !/^\d{1,15}$/.test(cursor)) return 0;
  const offset = Number(cursor);
  if (offset === 0) return 0;
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const b = Buffer.alloc(1);
    return readSync(fd, b, 0, 1, offset - 1) === 1 && b[0] === 0x0a ? offset : 0;
  } catch {
    return 0;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** TCP ports some socket of the host's network namespace listens on, or undefined when /proc/net cannot be read. */
export function listeningTcpPorts(): Set<number> | undefined {
  const ports = new Set<number>();
  let read = false;
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    read = true;
    for (const line of text.split('\n').slice(1)) {
      // "  sl  local_address rem_address   st ...": local_address is HEXIP:HEXPORT, st 0A is LISTEN.
      const fields = line.trim().split(/\s+/);
      if (fields[3] !== '0A') continue;
      const port = parseInt(fields[1]?.split(':').pop() ?? '', 16);
      if (Number.isInteger(port)) ports.add(port);
    }
  }
  return read ? ports : undefined;
}

function rmdirQuiet(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    /* already gone, or still has processes (then the kernel keeps it until they exit) */
  }
}

/** Runs a host command with a timeout, collecting combined output (first 64 KiB). */
export function runCommand(cmd: string[], o: { env?: Record<string, string>; cwd?: string; uid?: number; gid?: number }, timeoutMs: number): Promise<ExecResult> {
  return new Promise((resolve) => {
    const p = spawn(cmd[0]!, cmd.slice(1), { env: o.env, cwd: o.cwd, uid: o.uid, gid: o.gid, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let output = '';
    let timedOut = false;
    const add = (d: Buffer) => {
      if (output.length < 65536) output += d.toString('utf8');
    };
    p.stdout.on('data', add);
    p.stderr.on('data', add);
    const t = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-p.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
    }, timeoutMs);
    p.on('error', (e) => {
      clearTimeout(t);
      resolve({ exitCode: 127, output: e.message, timedOut: false });
    });
    p.on('close', (code, signal) => {
      clearTimeout(t);
      resolve({ exitCode: code ?? (signal ? 128 + 9 : 1), output, timedOut });
    });
  });
}
