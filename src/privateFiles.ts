/**
 * Files under a Berth data dir are private to the user running it: the state, the logs (whatever
 * containers printed, secrets included), the credentials and keys. Everything there is created
 * 0600 (directories 0700), and a data dir that others may read is made private at start, with a
 * warning, rather than trusted.
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, statSync } from 'node:fs';

/**
 * Makes `dir` (created if missing) readable by its owner only. Returns a warning to show when it
 * was open to the group or others, which it no longer is.
 */
export function ensurePrivateDir(dir: string): string | undefined {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const mode = statSync(dir).mode & 0o777;
  if ((mode & 0o077) === 0) return undefined;
  chmodSync(dir, 0o700);
  return `${dir} was readable by others (mode ${mode.toString(8)}); it is now 0700.`;
}

/**
 * Creates `path` empty with mode 0600 if it does not exist, and makes it (and SQLite's `-wal` /
 * `-shm` companions, which SQLite creates with the database file's mode) 0600 if it does.
 * Call before a database opens the file.
 */
export function ensurePrivateFile(path: string): void {
  closeSync(openSync(path, 'a', 0o600));
  for (const f of [path, `${path}-wal`, `${path}-shm`]) if (existsSync(f)) chmodSync(f, 0o600);
}
