/**
 * One agent per state dir. Two agents given the same dir would each recover, start and stop the
 * same tasks; so an agent takes `<stateDir>/agent.lock` before anything else and keeps it until
 * it closes. The file holds the holder's pid and that pid's start time (so a pid reused by an
 * unrelated process after a crash does not keep the lock). A lock whose holder is gone is taken
 * over; one whose holder lives is refused with a message saying which process holds it.
 *
 * The lock is written to a temporary file and hard-linked into place (link fails if the lock
 * exists), so it appears whole, and two agents starting at once cannot both create it.
 * Taking over a stale lock re-reads it just before removing it; two agents that find the same
 * stale lock in the same instant could still both proceed (a window of microseconds after a
 * crash), which is accepted.
 */
import { linkSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { procStartTime } from './drivers/processSupervisor.js';

/** Another live agent holds the state dir. */
export class StateDirLocked extends Error {
  constructor(
    readonly stateDir: string,
    readonly holderPid: number,
  ) {
    super(`another Berth agent (pid ${holderPid}) is using the state dir ${stateDir}: stop it first, or give this agent its own --state-dir`);
    this.name = 'StateDirLocked';
  }
}

interface LockContent {
  pid: number;
  startTime?: number;
}

/** A held lock; `release` removes it (only if it is still ours). */
export interface StateDirLock {
  release(): void;
}

const LOCK_FILE = 'agent.lock';

/** Whether the process that wrote `c` still runs (same pid, same start time). */
function holderAlive(c: LockContent): boolean {
  if (c.pid === process.pid) return false; // a lock this process left behind (e.g. a test reusing the dir)
  const started = procStartTime(c.pid);
  if (started === undefined) return false;
  return c.startTime === undefined || started === c.startTime;
}

function readLock(path: string): { raw: string; content: LockContent | undefined } | undefined {
  let raw: string;
  try {
    raw = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    const c = JSON.parse(raw) as LockContent;
    return { raw, content: Number.isSafeInteger(c.pid) && c.pid > 0 ? c : undefined };
  } catch {
    return { raw, content: undefined }; // torn or foreign: nobody live can be proven to hold it
  }
}

/** Takes the state dir's lock, or throws {@link StateDirLocked}. The dir must exist. */
export function lockStateDir(stateDir: string): StateDirLock {
  const path = join(stateDir, LOCK_FILE);
  const mine = JSON.stringify({ pid: process.pid, startTime: procStartTime(process.pid) } satisfies LockContent);
  for (let attempt = 0; attempt < 5; attempt++) {
    // Written beside it, then linked into place: the lock appears whole or not at all.
    const temp = `${path}.${process.pid}.tmp`;
    writeFileSync(temp, mine, { mode: 0o600 });
    try {
      linkSync(temp, path);
      unlinkSync(temp);
      return {
        release() {
          if (readLock(path)?.raw === mine) unlinkSync(path);
        },
      };
    } catch (e) {
      unlinkSync(temp);
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const held = readLock(path);
    if (!held) continue; // released between our attempt and the read
    if (held.content && holderAlive(held.content)) throw new StateDirLocked(stateDir, held.content.pid);
    // Stale: remove it if it is still the same stale lock, then try again.
    if (readLock(path)?.raw === held.raw) {
      try {
        unlinkSync(path);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
    }
  }
  throw new Error(`could not take the lock ${path}: it keeps changing (several agents starting on one state dir?)`);
}
