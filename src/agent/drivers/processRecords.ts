/**
 * Ending the container processes the process driver started under a directory, from their
 * `child.json` records ({pid, startTime}, written by ./processSupervisor.ts), for whoever removes
 * a driver's state without its agent: an Auto Scaling host being terminated, a test cleaning up.
 *
 * Invariant: a process is signalled only while it is the one recorded: its pid AND its kernel
 * start time match. A pid recycled by the kernel since (pid_max is often 32768, and a busy host
 * wraps it within hours) belongs to some other program and is left alone; so is a record without
 * a start time.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { procStartTime } from './processSupervisor.js';

/** How deep under the directory records are looked for (a driver's data dir is <dir>/<task>/<container>/). */
const MAX_DEPTH = 8;

/** SIGKILLs every recorded container process under `dir` that is still the one recorded, with its process group; returns how many. */
export function killRecordedProcessesUnder(dir: string, depth = 0): number {
  if (depth > MAX_DEPTH) return 0;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return 0;
  }
  let killed = 0;
  for (const n of names) {
    const p = join(dir, n);
    if (statSync(p, { throwIfNoEntry: false })?.isDirectory()) killed += killRecordedProcessesUnder(p, depth + 1);
    else if (n === 'child.json' && killRecorded(p)) killed++;
  }
  return killed;
}

function killRecorded(recordPath: string): boolean {
  let rec: { pid?: unknown; startTime?: unknown };
  try {
    rec = JSON.parse(readFileSync(recordPath, 'utf8')) as typeof rec;
  } catch {
    return false;
  }
  const pid = Number(rec.pid);
  if (!Number.isInteger(pid) || pid <= 1 || typeof rec.startTime !== 'number') return false;
  if (procStartTime(pid) !== rec.startTime) return false; // gone, or the pid is someone else's now
  // The container process leads its own group (the supervisor starts it so): the group first, so
  // nothing it forked outlives it.
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  return true;
}
