/**
 * Where the HAProxy plane keeps HTTPS listeners' certificates and keys. HAProxy reads them
 * from PEM files, and Berth's rule is that secrets are never on disk in clear, so they are
 * written only to a RAM-backed file system (tmpfs or ramfs, checked in /proc/mounts): a private
 * directory (0700, files 0600) made under `/dev/shm`, never under the data dir. A file leaves when
 * no loaded configuration references it any more, and the directory at shutdown (one left by a
 * Berth killed before its shutdown is removed by the next one, `sweepStale`). Without a
 * RAM-backed directory the HAProxy plane refuses to serve HTTPS listeners (`ramDirProblem`).
 *
 * Per HTTPS listener: one PEM file per certificate (named by a hash of its ARN and contents,
 * so a changed certificate is a new file and a new configuration) and a crt-list naming them,
 * the default certificate first (HAProxy's default for clients without a matching server name);
 * HAProxy picks a certificate by the SNI server name against the certificates' own names
 * (exact before wildcard), as ALB and the embedded plane do.
 */
import { createHash } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { PemPair } from '../../domain/elbv2/certificates.js';

/** File systems whose files live in memory only. */
const RAM_FILE_SYSTEMS = new Set(['tmpfs', 'ramfs']);

/** The file system type `path` lives on, from /proc/mounts (the longest mount point holding it); undefined when unknown. */
export function fileSystemOf(path: string, mounts?: string): string | undefined {
  let text = mounts;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/mounts', 'utf8');
    } catch {
      return undefined;
    }
  }
  const target = resolve(path);
  let best: { point: string; type: string } | undefined;
  for (const line of text.split('\n')) {
    const [, rawPoint, type] = line.split(' ');
    if (!rawPoint || !type) continue;
    // /proc/mounts escapes spaces and the like as octal.
    const point = rawPoint.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    const holds = point === '/' || target === point || target.startsWith(point + '/');
    if (holds && (!best || point.length >= best.point.length)) best = { point, type };
  }
  return best?.type;
}

/** Why `base` cannot hold secrets (not a RAM-backed directory), or undefined when it can. */
export function ramDirProblem(base: string, mounts?: string): string | undefined {
  try {
    if (!statSync(base).isDirectory()) return `${base} is not a directory`;
  } catch {
    return `${base} does not exist`;
  }
  const type = fileSystemOf(base, mounts);
  if (!type) return `the file system of ${base} is unknown (no /proc/mounts)`;
  if (!RAM_FILE_SYSTEMS.has(type)) return `${base} is on ${type}, not a RAM-backed file system (tmpfs)`;
  return undefined;
}

/** Whether a process with this id is running. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the certificate directories a Berth left in `base` when it was killed before its
 * shutdown (named `berth-haproxy-<pid>-…`, the process gone); others' are left alone.
 */
export function sweepStale(base: string): void {
  let entries: string[];
  try {
    entries = readdirSync(base);
  } catch {
    return;
  }
  for (const name of entries) {
    const m = /^berth-haproxy-(\d{1,10})-[A-Za-z0-9]{6}$/.exec(name);
    if (!m || Number(m[1]) === process.pid || alive(Number(m[1]))) continue;
    try {
      rmSync(join(base, name), { recursive: true, force: true });
    } catch {
      // Another user's directory: not ours to remove.
    }
  }
}

/** One certificate of a listener with its PEMs. */
export interface ListenerCertificate {
  arn: string;
  pem: PemPair;
}

/** The private RAM-backed directory of one HAProxy plane's certificate files. */
export class RamSecrets {
  private dir: string | undefined;
  private problem: string | undefined;

  /** `base`: where the private directory is made (default /dev/shm). */
  constructor(private readonly base = '/dev/shm') {}

  /** The private directory (made on first use), or why there is none: a string starting with "HTTPS ...". */
  private directory(): { dir: string } | { problem: string } {
    if (this.dir) return { dir: this.dir };
    this.problem ??= ramDirProblem(this.base);
    if (this.problem) return { problem: `HTTPS listeners are not served by the HAProxy plane: its certificates' keys must stay off disk and ${this.problem}` };
    sweepStale(this.base);
    const dir = mkdtempSync(join(this.base, `berth-haproxy-${process.pid}-`));
    chmodSync(dir, 0o700);
    this.dir = dir;
    return { dir };
  }

  /**
   * Writes a listener's certificates (the default first) and its crt-list; returns the
   * crt-list's path and every file it needs, or why it cannot (no RAM-backed directory).
   */
  writeListener(port: number, certs: readonly ListenerCertificate[]): { crtList: string; files: string[] } | string {
    const d = this.directory();
    if ('problem' in d) return d.problem;
    const files: string[] = [];
    for (const c of certs) {
      const name = createHash('sha256').update(c.arn).update('\0').update(c.pem.cert).update('\0').update(c.pem.key).digest('hex').slice(0, 24);
      const path = join(d.dir, `${name}.pem`);
      writeFileSync(path, `${c.pem.cert.trim()}\n${c.pem.key.trim()}\n`, { mode: 0o600 });
      files.push(path);
    }
    // Named by its contents: a configuration keeps pointing at the list it was checked with.
    const list = files.map((f) => `${f}\n`).join('');
    const crtList = join(d.dir, `l_${port}_${createHash('sha256').update(list).digest('hex').slice(0, 16)}.crtlist`);
    writeFileSync(crtList, list, { mode: 0o600 });
    return { crtList, files: [crtList, ...files] };
  }

  /** Removes every file of the directory not in `keep` (certificates no configuration uses). */
  retain(keep: ReadonlySet<string>): void {
    if (!this.dir) return;
    for (const f of readdirSync(this.dir)) {
      const path = join(this.dir, f);
      if (!keep.has(path)) rmSync(path, { force: true });
    }
  }

  /** Removes the directory and everything in it (shutdown). */
  dispose(): void {
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    this.dir = undefined;
  }
}
