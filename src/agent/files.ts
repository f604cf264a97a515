/** File helpers of the agent's state dir. */
import { renameSync, writeFileSync } from 'node:fs';

/** Replaces a file's content atomically (write a temp file, then rename), mode 0600. */
export function writeAtomic(path: string, data: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, data, { mode: 0o600 });
  renameSync(tmp, path);
}
