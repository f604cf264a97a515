/**
 * The tiny supervisor the process driver puts between the agent and each container process, so a
 * container survives an agent restart and its exit is still known afterwards. Run as
 * `node processSupervisor.js <dir>`, detached, with the spec describing the process on stdin. It:
 *  - starts the process in its own process group (moved into a memory cgroup first, when given);
 *  - writes <dir>/child.json ({pid, startTime}) once started, or <dir>/error.json if it cannot start;
 *  - appends every output line to <dir>/output.log as JSON ({t: epoch ms, s: stream, l: line}),
 *    synchronously, including a last line without a trailing newline;
 *  - on exit writes <dir>/exit.json ({code, signal, oomKilled, finishedAt}) atomically, then exits.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';

/** What the supervisor reads from stdin. */
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

function writeAtomic(path: string, data: unknown): void {
  writeFileSync(`${path}.tmp`, JSON.stringify(data));
  renameSync(`${path}.tmp`, path);
}

function main(dir: string): void {
  // The spec (environment, secrets included) arrives on stdin, so it is never written to disk.
  const spec = JSON.parse(readFileSync(0, 'utf8')) as SupervisorSpec;
  const logFd = openSync(join(dir, 'output.log'), 'a');
  // A tiny /bin/sh prologue applies limits and joins the cgroup, then execs the real command
  // (same pid, same process group), so nothing runs outside the limits.
  const prologue = [
    ...(spec.ulimits ?? []).map(([flag, soft, hard]) => `{ ulimit -S -${flag} ${soft} 2>/dev/null; ulimit -H -${flag} ${hard} && ulimit -S -${flag} ${soft}; }`),
    ...(spec.cgroupDir ? ['echo $$ > "$0/cgroup.procs"'] : []),
  ];
  const argv = prologue.length ? ['/bin/sh', '-c', [...prologue, 'exec "$@"'].join(' && '), spec.cgroupDir ?? 'sh', ...spec.argv] : spec.argv;
  const oomBefore = readOomKills(spec.oomFile);
  process.on('SIGHUP', () => {});
  process.on('SIGTERM', () => {});
  process.on('SIGINT', () => {});
  const child = spawn(argv[0]!, argv.slice(1), { cwd: spec.cwd, env: spec.env, uid: spec.uid, gid: spec.gid, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  child.on('error', (e) => {
    writeAtomic(join(dir, 'error.json'), { message: e.message });
    process.exit(1);
  });
  child.on('spawn', () => writeAtomic(join(dir, 'child.json'), { pid: child.pid, startTime: procStartTime(child.pid!) }));
  const pending: Record<'stdout' | 'stderr', string> = { stdout: '', stderr: '' };
  const emit = (s: 'stdout' | 'stderr', l: string) => writeSync(logFd, JSON.stringify({ t: Date.now(), s, l }) + '\n');
  for (const s of ['stdout', 'stderr'] as const) {
    child[s].setEncoding('utf8');
    child[s].on('data', (chunk: string) => {
      const parts = (pending[s] + chunk).split('\n');
      pending[s] = parts.pop()!;
      for (const l of parts) emit(s, l);
    });
  }
  child.on('close', (code, signal) => {
    for (const s of ['stdout', 'stderr'] as const) if (pending[s]) emit(s, pending[s]);
    closeSync(logFd);
    const signum = signal ? (constants.signals as Record<string, number>)[signal] ?? 0 : 0;
    const oomKilled = readOomKills(spec.oomFile) > oomBefore;
    writeAtomic(join(dir, 'exit.json'), { code: signal ? 128 + signum : code ?? 0, signal: signal ?? undefined, oomKilled, finishedAt: Date.now() });
    process.exit(0);
  });
}

if (process.argv[2] && process.argv[1]?.endsWith('processSupervisor.js')) main(process.argv[2]);
