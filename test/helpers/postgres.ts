/**
 * A private PostgreSQL server for tests: BERTH_TEST_POSTGRES_URL if set, else a throwaway
 * cluster (initdb + pg_ctl from Debian's postgresql package) in a temp dir on a free port,
 * run as the `postgres` user when the tests run as root. Returns undefined (with the reason)
 * when no PostgreSQL is installed, so callers can skip saying why.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readdirSync, rmSync, chownSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './fixture.js';

export interface TestPostgres {
  url: string;
  stop(): void;
  /**
   * Stops the server as a crash would (`pg_ctl stop -m immediate`), then starts it again on the
   * same port and data (absent for a server given by BERTH_TEST_POSTGRES_URL). With `downMs`,
   * it stays down that long in between.
   */
  restart?(downMs?: number): Promise<void>;
}

function pgBin(): string | undefined {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return undefined;
  const versions = readdirSync(base).sort((a, b) => Number(b) - Number(a));
  for (const v of versions) if (existsSync(join(base, v, 'bin', 'initdb'))) return join(base, v, 'bin');
  return undefined;
}


/**
 * Starts the server (see the file's comment). `network` also makes it listen on `listen` (e.g. a
 * test bridge's address, test/helpers/netns.ts) and admit clients of `subnet` (CIDR), for replicas
 * in network namespaces; the returned url stays on 127.0.0.1. Not for BERTH_TEST_POSTGRES_URL:
 * that answers a string (the caller skips).
 */
export async function startTestPostgres(network?: { listen: string; subnet: string }): Promise<TestPostgres | string> {
  if (network && process.env.BERTH_TEST_POSTGRES_URL) return 'BERTH_TEST_POSTGRES_URL is set: this test needs its own server listening on the test hosts\' network';
  if (process.env.BERTH_TEST_POSTGRES_URL) return { url: process.env.BERTH_TEST_POSTGRES_URL, stop: () => undefined };
  const bin = pgBin();
  if (!bin) return 'PostgreSQL is not installed (apt-get install postgresql) and BERTH_TEST_POSTGRES_URL is not set';
  const dir = mkdtempSync(join(tmpdir(), 'berth-pg-'));
  const asRoot = process.getuid?.() === 0;
  let uid: number | undefined;
  let gid: number | undefined;
  if (asRoot) {
    uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    chownSync(dir, uid, gid);
  }
  const run = (cmd: string, args: string[]) => {
    const r = spawnSync(join(bin, cmd), args, { uid, gid, encoding: 'utf8', cwd: dir });
    if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr || r.stdout}`);
  };
  const data = join(dir, 'data');
  run('initdb', ['-D', data, '-U', 'berth', '--auth=trust', '-E', 'UTF8', '--no-sync']);
  if (network) appendFileSync(join(data, 'pg_hba.conf'), `host all all ${network.subnet} trust\n`);
  const port = await freePort();
  const listen = network ? `127.0.0.1,${network.listen}` : '127.0.0.1';
  const start = () => run('pg_ctl', ['-D', data, '-l', join(dir, 'log'), '-w', '-o', `-p ${port} -k ${dir} -c listen_addresses=${listen} -c fsync=off`, 'start']);
  start();
  return {
    url: `postgres://berth@127.0.0.1:${port}/postgres`,
    async restart(downMs = 0) {
      run('pg_ctl', ['-D', data, '-m', 'immediate', 'stop']);
      if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
      start();
    },
    stop() {
      spawnSync(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', 'stop'], { uid, gid });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
