/**
 * A log stream's state file, what lets the LogShipper (logShipper.ts) ship exactly once across
 * agent restarts: `<stateDir>/<hash of group and stream>.json`, mode 0600, written atomically,
 * holding per source the cursor of the last acknowledged line, the newest acknowledged time and
 * the batch in flight (counts, cursors and times, never a message). Here: its name, writing it,
 * reading it back (checked, anything else is no state file), and removing the files of streams
 * gone.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeAtomic } from './files.js';
import type { InFlight, LogDestination, Stream } from './logStream.js';

/** The state file's content. */
export interface StreamFile {
  v: 1;
  group: string;
  stream: string;
  /** Per source, the cursor of the last acknowledged line. */
  acked: Record<string, string>;
  /** Newest acknowledged event time (null: none). */
  maxAckedTs: number | null;
  inflight?: InFlight;
}

/** The state file of the stream with this id (group and stream) in `stateDir`. */
export function streamFilePath(stateDir: string, id: string): string {
  return join(stateDir, `${createHash('sha256').update(id).digest('hex').slice(0, 32)}.json`);
}

/** Writes the stream's acknowledged state and batch in flight to `file`; throws when it cannot. */
export function writeStreamFile(file: string, p: Stream): void {
  const f: StreamFile = {
    v: 1,
    group: p.dest.group,
    stream: p.dest.stream,
    acked: p.acked,
    maxAckedTs: Number.isFinite(p.maxAckedTs) ? p.maxAckedTs : null,
    inflight: p.inflight,
  };
  writeAtomic(file, JSON.stringify(f));
}

/**
 * The destination's state file: undefined when there is none to read, null when what is there
 * is not one (damaged, or another version's, or another stream's).
 */
export function readStreamFile(file: string, dest: LogDestination): StreamFile | null | undefined {
  let raw: string;
  try {
    raw = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  return parseStreamFile(raw, dest) ?? null;
}

/** Removes the state files in `dir` but those in `kept`. */
export function removeStreamFilesExcept(dir: string, kept: ReadonlySet<string | undefined>): void {
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const n of names) if (n.endsWith('.json') && !kept.has(join(dir, n))) rmSync(join(dir, n), { force: true });
}

/** A state file's content, or undefined when it is not one (damaged, or another version's). */
function parseStreamFile(raw: string, dest: LogDestination): StreamFile | undefined {
  let f: unknown;
  try {
    f = JSON.parse(raw);
  } catch {
    return undefined;
  }
  const o = f as Partial<StreamFile> | null;
  if (!o || typeof o !== 'object' || o.v !== 1 || o.group !== dest.group || o.stream !== dest.stream) return undefined;
  if (!isCursorMap(o.acked)) return undefined;
  if (o.maxAckedTs !== null && !Number.isSafeInteger(o.maxAckedTs)) return undefined;
  if (o.inflight !== undefined) {
    const inf = o.inflight as Partial<InFlight> | null;
    if (!inf || typeof inf !== 'object' || !Number.isSafeInteger(inf.maxTs) || !Array.isArray(inf.evidence) || !inf.sources || typeof inf.sources !== 'object') return undefined;
    for (const e of inf.evidence) {
      if (!Array.isArray(e) || e.length !== 2 || !Number.isSafeInteger(e[0]) || !Number.isSafeInteger(e[1]) || (e[1] as number) < 0) return undefined;
    }
    for (const s of Object.values(inf.sources)) {
      if (!s || typeof s !== 'object' || !Number.isSafeInteger(s.count) || s.count < 0 || (s.cursor !== undefined && typeof s.cursor !== 'string')) return undefined;
    }
  }
  return o as StreamFile;
}

function isCursorMap(v: unknown): v is Record<string, string> {
  return !!v && typeof v === 'object' && !Array.isArray(v) && Object.values(v).every((c) => typeof c === 'string');
}
