/**
 * The supervisor the process driver puts between the agent and the container processes, so a
 * container survives an agent restart and its exit is still known afterwards. One supervisor
 * serves every container of a driver data dir: started once (detached, in its own session) as
 * `node processSupervisor.js <socket>`, it listens on a unix socket (mode 0600) and takes
 * newline-delimited JSON requests; starting a container is then one message and one fork, not a
 * new Node process (see bench/runtask-e2e.ts for what that is worth).
 *
 * Requests and answers (one JSON object a line):
 *   -> {id, op: 'start', dir, spec: SupervisorSpec}   <- {id, ok: true, pid, startTime} | {id, ok: false, error}
 *   -> {id, op: 'ping'}                               <- {id, ok: true, pid, version}
 *   <- {op: 'exit', dir, exit}    sent to every connected client when a container has exited
 *
 * For each container directory `dir` it:
 *  - starts the process in its own process group (moved into a memory cgroup first, when given);
 *  - writes <dir>/child.json ({pid, startTime}) once started, before answering;
 *  - appends every output line to <dir>/output.log as JSON ({t: epoch ms, s: stream, l: line}),
 *    synchronously, including a last line without a trailing newline;
 *  - on exit writes <dir>/exit.json ({code, signal, oomKilled, finishedAt}) atomically, then tells
 *    its clients. The files are the record; the messages only save the driver from polling.
 *
 * Invariants: the spec (environment, secrets included) only ever travels over the socket, never to
 * disk. The supervisor ignores SIGTERM/SIGINT/SIGHUP (it must outlive the agent and its terminal);
 * it exits by itself once it supervises no process and no client is connected, and it stops what
 * it runs and exits once its socket has been gone a minute with no client (its state dir was
 * deleted: no agent can reach it again). A container ends with its main process: the rest of
 * its process group is killed then, as a container engine does. A second
 * supervisor started on a socket that a live one answers on leaves at once ("taken").
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { writeAtomic } from '../files.js';
import { connect, createServer, type Socket } from 'node:net';
import { constants } from 'node:os';
import { join } from 'node:path';

/** What a container process is started with. */
export interface SupervisorSpec {
  argv: string[];
  env: Record<string, string>;
  cwd: string;
  uid?: number;
  gid?: number;
  /** cgroup directory to move the process into before it execs. */
  cgroupDir?: string;
  /** Resource limits applied with the shell's `ulimit` before exec: [flag, soft, hard] in the shell's units. */
  ulimits?: Array<[string, number, number]>;
  /** File whose `oom_kill N` line counts OOM kills in that cgroup (memory.events or memory.oom_control). */
  oomFile?: string;
}

/** How a supervised process ended, as written to exit.json and sent in 'exit' messages. */
export interface SupervisedExit {
  code: number;
  signal?: string;
  oomKilled: boolean;
  finishedAt: number;
}

/** A request to the supervisor. */
export type SupervisorRequest = { id: number; op: 'start'; dir: string; spec: SupervisorSpec } | { id: number; op: 'ping' };

/** A message from the supervisor: an answer to a request, or an exit notice. */
export type SupervisorMessage =
  | { id: number; ok: true; pid: number; startTime?: number; version?: string }
  | { id: number; ok: false; error: string }
  | { op: 'exit'; dir: string; exit: SupervisedExit };

/** Reads the `oom_kill` counter from a cgroup memory.events / memory.oom_control file (0 if unreadable). */
export function readOomKills(file: string | undefined): number {
  if (!file) return 0;
  try {
    const m = /^oom_kill (\d+)$/m.exec(readFileSync(file, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Start time of a pid in clock ticks since boot (field 22 of /proc/<pid>/stat), or undefined if gone. */
export function procStartTime(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (rest[0] === 'Z' || rest[0] === 'X') return undefined;
    return Number(rest[19]);
  } catch {
    return undefined;
  }
}

/** The argv that applies limits and joins the cgroup in a tiny /bin/sh prologue, then execs the command (same pid, same group). */
function argvOf(spec: SupervisorSpec): string[] {
  const prologue = [
    ...(spec.ulimits ?? []).map(([flag, soft, hard]) => `{ ulimit -S -${flag} ${soft} 2>/dev/null; ulimit -H -${flag} ${hard} && ulimit -S -${flag} ${soft}; }`),
    ...(spec.cgroupDir ? ['echo $$ > "$0/cgroup.procs"'] : []),
  ];
  return prologue.length ? ['/bin/sh', '-c', [...prologue, 'exec "$@"'].join(' && '), spec.cgroupDir ?? 'sh', ...spec.argv] : spec.argv;
}

/** How long after a container's main process exits its output may still be drained. */
const EXIT_DRAIN_MS = 2_000;
/**
 * How long a supervisor whose socket is gone waits for a client before it stops what it runs and
 * leaves (BERTH_SUPERVISOR_ORPHANED_AFTER_MS overrides it, for tests); it looks every quarter of that.
 */
const ORPHANED_AFTER_MS = 60_000;

/** The supervisor process itself. */
class Supervisor {
  private readonly clients = new Set<Socket>();
  /** Container dir -> pid of its main process, for every process supervised. */
  private readonly running = new Map<string, number>();
  private orphanedSince = 0;
  /** Set once its processes were told to stop because nobody can reach them. */
  private abandoned = false;
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly version: string,
    private readonly orphanedAfterMs: number,
  ) {}

  /** Starts one container process; answers once it has started (or failed to). */
  start(dir: string, spec: SupervisorSpec, answer: (m: SupervisorMessage) => void, id: number): void {
    if (this.running.has(dir)) return answer({ id, ok: false, error: `a process is already supervised in ${dir}` });
    let logFd: number;
    try {
      logFd = openSync(join(dir, 'output.log'), 'a');
    } catch (e) {
      return answer({ id, ok: false, error: (e as Error).message });
    }
    const oomBefore = readOomKills(spec.oomFile);
    const argv = argvOf(spec);
    let child: ChildProcess;
    try {
      child = spawn(argv[0]!, argv.slice(1), { cwd: spec.cwd, env: spec.env, uid: spec.uid, gid: spec.gid, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      closeSync(logFd);
      return answer({ id, ok: false, error: (e as Error).message });
    }
    this.running.set(dir, child.pid ?? 0);
    let started = false;
    child.on('error', (e) => {
      if (started) return;
      this.running.delete(dir);
      closeSync(logFd);
      answer({ id, ok: false, error: e.message });
      this.checkIdle();
    });
    child.on('spawn', () => {
      started = true;
      const startTime = procStartTime(child.pid!);
      // Recorded before the answer: a driver whose connection went unanswered can tell a started process from one never started.
      try {
        writeAtomic(join(dir, 'child.json'), JSON.stringify({ pid: child.pid, startTime }));
      } catch {
        /* the directory was removed under us; the answer still says what runs */
      }
      answer({ id, ok: true, pid: child.pid!, startTime });
    });
    const pending: Record<'stdout' | 'stderr', string> = { stdout: '', stderr: '' };
    const emit = (s: 'stdout' | 'stderr', l: string) => {
      try {
        writeSync(logFd, JSON.stringify({ t: Date.now(), s, l }) + '\n');
      } catch {
        /* the directory was removed under us: the line has nowhere to go */
      }
    };
    for (const s of ['stdout', 'stderr'] as const) {
      child[s]!.setEncoding('utf8');
      child[s]!.on('data', (chunk: string) => {
        const parts = (pending[s] + chunk).split('\n');
        pending[s] = parts.pop()!;
        for (const l of parts) emit(s, l);
      });
    }
    // The container ends with its main process, as in a container engine: whatever it left in
    // its process group is killed, and the record is written once the output pipes are drained
    // (or after EXIT_DRAIN_MS, if something outside the group still holds them).
    let finished = false;
    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      if (finished || !started) return;
      finished = true;
      clearTimeout(drainTimer);
      for (const s of ['stdout', 'stderr'] as const) {
        if (pending[s]) emit(s, pending[s]);
        child[s]!.destroy();
      }
      closeSync(logFd);
      const signum = signal ? ((constants.signals as Record<string, number>)[signal] ?? 0) : 0;
      const exit: SupervisedExit = { code: signal ? 128 + signum : (code ?? 0), signal: signal ?? undefined, oomKilled: readOomKills(spec.oomFile) > oomBefore, finishedAt: Date.now() };
      try {
        writeAtomic(join(dir, 'exit.json'), JSON.stringify(exit));
      } catch {
        /* the directory is gone: nobody is left to read it */
      }
      this.running.delete(dir);
      this.broadcast({ op: 'exit', dir, exit });
      this.checkIdle();
    };
    let drainTimer: NodeJS.Timeout | undefined;
    child.on('exit', (code, signal) => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* the group is already empty */
      }
      drainTimer = setTimeout(() => finish(code, signal), EXIT_DRAIN_MS);
    });
    child.on('close', (code, signal) => finish(code, signal));
  }

  /**
   * Called now and then with whether the socket is still this supervisor's. Once it has been
   * gone (the state dir deleted, or another supervisor took the path) with no client for
   * `orphanedAfterMs`, no agent can ever reach what runs here: it is stopped (SIGTERM, SIGKILL
   * 10 s later) and the supervisor leaves when it is done.
   */
  checkOrphaned(socketIsMine: boolean, now: number): void {
    if (socketIsMine || this.clients.size > 0) {
      this.orphanedSince = 0;
      return;
    }
    if (this.orphanedSince === 0) this.orphanedSince = now;
    if (this.abandoned || now - this.orphanedSince < this.orphanedAfterMs) return;
    this.abandoned = true;
    const signalAll = (sig: NodeJS.Signals) => {
      for (const pid of this.running.values()) {
        try {
          if (pid > 0) process.kill(-pid, sig);
        } catch {
          /* gone already */
        }
      }
    };
    signalAll('SIGTERM');
    setTimeout(() => signalAll('SIGKILL'), 10_000).unref();
    this.checkIdle();
  }

  private broadcast(m: SupervisorMessage): void {
    const line = JSON.stringify(m) + '\n';
    for (const c of this.clients) if (!c.destroyed) c.write(line);
  }

  /** Leaves once nothing is supervised and nobody is connected (after a short grace, for a reconnecting agent). */
  checkIdle(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    if (this.running.size > 0 || this.clients.size > 0) return;
    this.idleTimer = setTimeout(() => {
      if (this.running.size === 0 && this.clients.size === 0) process.exit(0);
    }, 2_000);
  }

  serve(socket: Socket): void {
    this.clients.add(socket);
    this.checkIdle();
    const answer = (m: SupervisorMessage) => {
      if (!socket.destroyed) socket.write(JSON.stringify(m) + '\n');
    };
    let buf = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buf += chunk;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let req: SupervisorRequest;
        try {
          req = JSON.parse(line) as SupervisorRequest;
        } catch {
          continue;
        }
        if (req.op === 'start') this.start(req.dir, req.spec, answer, req.id);
        else if (req.op === 'ping') answer({ id: req.id, ok: true, pid: process.pid, version: this.version });
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.clients.delete(socket);
      this.checkIdle();
    });
  }
}

/** Is a live supervisor answering on this socket? */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

async function main(socketPath: string, version: string): Promise<void> {
  for (const sig of ['SIGHUP', 'SIGTERM', 'SIGINT', 'SIGPIPE'] as const) process.on(sig, () => undefined);
  // One bad request or child must never take the other containers' supervision down with it.
  process.on('uncaughtException', (e) => process.stderr.write(`berth process supervisor: ${e.stack ?? e}\n`));
  process.umask(0o077);
  const orphanedAfterMs = Number(process.env.BERTH_SUPERVISOR_ORPHANED_AFTER_MS) > 0 ? Number(process.env.BERTH_SUPERVISOR_ORPHANED_AFTER_MS) : ORPHANED_AFTER_MS;
  const sup = new Supervisor(version, orphanedAfterMs);
  const server = createServer((s) => sup.serve(s));
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
  try {
    await listen();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw e;
    if (await answers(socketPath)) {
      process.stdout.write('taken\n');
      process.exit(0);
    }
    unlinkSync(socketPath); // left by a supervisor that died
    await listen();
  }
  process.stdout.write('ready\n');
  sup.checkIdle();
  const inode = statSync(socketPath).ino;
  const socketIsMine = () => {
    try {
      return statSync(socketPath).ino === inode;
    } catch {
      return false;
    }
  };
  setInterval(() => sup.checkOrphaned(socketIsMine(), Date.now()), Math.max(50, orphanedAfterMs / 4));
}

if (process.argv[1]?.endsWith('processSupervisor.js') && process.argv[2]) {
  main(process.argv[2], process.argv[3] ?? '').catch((e: Error) => {
    process.stdout.write(`error ${e.message}\n`);
    process.exit(1);
  });
}
