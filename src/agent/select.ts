/**
 * Picks the runtime driver of an agent: `docker` when asked or when an engine socket answers,
 * `process` otherwise (no container engine needed).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Driver } from './drivers/driver.js';
import { DockerDriver } from './drivers/docker.js';
import { ProcessDriver } from './drivers/process.js';
import { defaultDockerSocket } from './drivers/dockerApi.js';

export type DriverName = 'docker' | 'process';

export async function chooseDriver(name: DriverName | undefined, stateDir: string): Promise<Driver> {
  if (name === 'process') return new ProcessDriver({ dataDir: join(stateDir, 'process') });
  const socket = defaultDockerSocket();
  if (name === 'docker' || existsSync(socket)) {
    const docker = new DockerDriver({ socketPath: socket });
    const fp = await docker.fingerprint();
    if (fp.available) return docker;
    if (name === 'docker') throw new Error(`the docker driver is not available: ${fp.detail ?? `no engine answers at ${socket}`}`);
  }
  return new ProcessDriver({ dataDir: join(stateDir, 'process') });
}
