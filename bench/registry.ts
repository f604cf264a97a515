/**
 * Registry throughput and server memory: the same images pushed to and pulled from Berth's
 * registry and Debian's `docker-registry` (the CNCF distribution registry, v2.8) with skopeo,
 * in the same run, each server a process of its own on loopback with a fresh data directory.
 *
 * Images (made once, in skopeo's `dir:` layout, layers of incompressible bytes in stored gzip):
 * - `big`: ~200 MB in 4 layers (the large image);
 * - `small`: the same shape at a tenth of the size (to see whether memory grows with layer size);
 * - `many`: 100 layers of 16 KiB (per-request overhead).
 * Each transfer runs `--rounds` times per server (alternating servers), into a fresh repository
 * each time; the best time is kept. Server memory: resident set sampled every 20 ms during each
 * transfer, minus the server's resident set before it; the peak is printed, for `small` and
 * `big`, so flat memory shows as the same figure for both.
 *
 * Usage: node dist/bench/registry.js [--rounds 3] [--big-mb 200]
 * Needs skopeo and docker-registry (apt: skopeo docker-registry).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createGzip } from 'node:zlib';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { callJson } from '../src/client/awsClient.js';

const args = process.argv.slice(2);
const arg = (name: string, dflt: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const ROUNDS = arg('rounds', 3);
const BIG_MB = arg('big-mb', 200);
const MiB = 1024 * 1024;
const BERTH_BIN = fileURLToPath(new URL('../../bin/berth', import.meta.url));

for (const tool of ['skopeo', 'docker-registry']) {
  if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) {
    console.error(`bench/registry needs ${tool} (apt install skopeo docker-registry)`);
    process.exit(2);
  }
}

const work = mkdtempSync(join(tmpdir(), 'berth-bench-registry-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

/** Writes a stored-gzip layer of `bytes` incompressible bytes; returns its digest and size. */
async function writeLayer(dir: string, bytes: number): Promise<{ digest: string; size: number }> {
  const tmp = join(dir, 'layer.tmp');
  const hash = createHash('sha256');
  let size = 0;
  let left = bytes;
  const source = Readable.from(
    (function* () {
      while (left > 0) {
        const n = Math.min(left, MiB);
        left -= n;
        yield randomBytes(n);
      }
    })(),
  );
  const gzip = createGzip({ level: 0 });
  gzip.on('data', (c: Buffer) => {
    hash.update(c);
    size += c.length;
  });
  await pipeline(source, gzip, createWriteStream(tmp));
  const hex = hash.digest('hex');
  renameSync(tmp, join(dir, hex));
  return { digest: `sha256:${hex}`, size };
}

/** An image in skopeo's dir: layout (docker schema 2). */
async function makeImage(name: string, layerBytes: number[]): Promise<{ dir: string; bytes: number }> {
  const dir = join(work, 'images', name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'version'), 'Directory Transport Version: 1.1\n');
  const layers = [];
  for (const b of layerBytes) layers.push(await writeLayer(dir, b));
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) } }));
  const configHex = createHash('sha256').update(config).digest('hex');
  writeFileSync(join(dir, configHex), config);
  const manifest = {
    schemaVersion: 2,
    mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
    config: { mediaType: 'application/vnd.docker.container.image.v1+json', digest: `sha256:${configHex}`, size: config.length },
    layers: layers.map((l) => ({ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', digest: l.digest, size: l.size })),
  };
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
  return { dir, bytes: layers.reduce((n, l) => n + l.size, 0) + config.length };
}

/** Resident set of a process, bytes. */
function rss(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

interface Server {
  name: string;
  host: string;
  pid: number;
  /** skopeo's credential flag for this server ('' without). */
  creds?: string;
  /** Makes a repository exist before a push (ECR needs it; distribution does not). */
  prepare(repo: string): Promise<void>;
  stop(): Promise<void>;
}

function waitFor(child: ChildProcess, pattern: RegExp, what: string): Promise<RegExpExecArray> {
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not start:\n${out}`)), 30_000);
    const on = (d: Buffer) => {
      out += d.toString();
      const m = pattern.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    };
    child.stdout?.on('data', on);
    child.stderr?.on('data', on);
    child.on('exit', (code) => reject(new Error(`${what} exited (${code}):\n${out}`)));
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((r) => {
    if (child.exitCode !== null || child.signalCode !== null) return r();
    child.once('exit', () => r());
    child.kill('SIGTERM');
  });
}

async function startBerth(round: number): Promise<Server> {
  const dataDir = join(work, `berth-data-${round}`);
  const keyId = 'AKIABENCHREGISTRY001';
  const secret = 'bench-registry-secret-0000000000000000000';
  const child = spawn(process.execPath, [BERTH_BIN, 'up', '--port', '0', '--no-agent', '--data-dir', dataDir], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, BERTH_ROOT_ACCESS_KEY_ID: keyId, BERTH_ROOT_SECRET_ACCESS_KEY: secret, BERTH_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const url = (await waitFor(child, /listening on (http:\/\/\S+)/, 'berth'))[1]!;
  const client = { endpoint: url, region: 'us-east-1', accessKeyId: keyId, secretAccessKey: secret };
  const ecr = <T>(op: string, input: unknown) => callJson<T>(client, 'ecr', `AmazonEC2ContainerRegistry_V20150921.${op}`, input);
  const token = await ecr<{ authorizationData: Array<{ authorizationToken: string }> }>('GetAuthorizationToken', {});
  return {
    name: 'berth',
    host: new URL(url).host,
    pid: child.pid!,
    creds: Buffer.from(token.authorizationData[0]!.authorizationToken, 'base64').toString('utf8'),
    prepare: async (repo) => {
      await ecr('CreateRepository', { repositoryName: repo });
    },
    stop: async () => {
      await stopChild(child);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function startDistribution(round: number): Promise<Server> {
  const root = join(work, `distribution-data-${round}`);
  mkdirSync(root);
  // A free port: bind one, read it, release it.
  const { createServer } = await import('node:net');
  const port = await new Promise<number>((r) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => r(p));
    });
  });
  const config = join(work, `distribution-${round}.yml`);
  writeFileSync(config, `version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: ${root}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${port}\n`);
  const child = spawn('docker-registry', ['serve', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.resume();
  child.stderr!.resume();
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ok = await fetch(`http://127.0.0.1:${port}/v2/`).then((r) => r.status === 200, () => false);
    if (ok) break;
    if (Date.now() > deadline || child.exitCode !== null) throw new Error('docker-registry did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    name: 'docker-registry',
    host: `127.0.0.1:${port}`,
    pid: child.pid!,
    prepare: async () => undefined,
    stop: async () => {
      await stopChild(child);
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** Runs skopeo while sampling the server's resident set; answers seconds and the peak growth in bytes. */
async function timed(server: Server, skopeoArgs: string[]): Promise<{ seconds: number; peakGrowth: number }> {
  const base = rss(server.pid);
  let peak = base;
  const sampler = setInterval(() => (peak = Math.max(peak, rss(server.pid))), 20);
  const t0 = process.hrtime.bigint();
  await new Promise<void>((resolve, reject) => {
    const p = spawn('skopeo', skopeoArgs, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d) => (err += d));
    p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`skopeo ${skopeoArgs.join(' ')} failed:\n${err}`))));
  });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  clearInterval(sampler);
  peak = Math.max(peak, rss(server.pid));
  return { seconds, peakGrowth: peak - base };
}

let repoSeq = 0;
async function pushPull(server: Server, image: { dir: string }): Promise<{ push: { seconds: number; peakGrowth: number }; pull: { seconds: number; peakGrowth: number } }> {
  const repo = `bench/r${++repoSeq}`;
  await server.prepare(repo);
  const ref = `docker://${server.host}/${repo}:v1`;
  const credsTo = server.creds ? ['--dest-creds', server.creds] : [];
  const credsFrom = server.creds ? ['--src-creds', server.creds] : [];
  const push = await timed(server, ['copy', '--quiet', '--dest-tls-verify=false', ...credsTo, `dir:${image.dir}`, ref]);
  const out = join(work, `pulled-${repoSeq}`);
  const pull = await timed(server, ['copy', '--quiet', '--src-tls-verify=false', ...credsFrom, ref, `dir:${out}`]);
  rmSync(out, { recursive: true, force: true });
  return { push, pull };
}

const mb = (b: number) => (b / MiB).toFixed(1);

async function main(): Promise<void> {
  console.log(`making images (big: ${BIG_MB} MB in 4 layers; small: ${BIG_MB / 10} MB in 4 layers; many: 100 x 16 KiB)...`);
  const quarter = Math.floor((BIG_MB * MiB) / 4);
  const images = {
    big: await makeImage('big', [quarter, quarter, quarter, quarter]),
    small: await makeImage('small', [quarter / 10, quarter / 10, quarter / 10, quarter / 10].map(Math.floor)),
    many: await makeImage('many', Array.from({ length: 100 }, () => 16 * 1024)),
  };
  type Best = { push: number; pull: number; pushMem: number; pullMem: number };
  const best = new Map<string, Best>();
  const serverNames = ['berth', 'docker-registry'];
  for (let round = 0; round < ROUNDS; round++) {
    // Fresh servers each round: a blob already there would make a push a no-op (deduplication, mounts).
    const servers = [await startBerth(round), await startDistribution(round)];
    try {
      for (const [name, image] of Object.entries(images)) {
        // Alternate which server goes first, so neither always gets the warmer page cache.
        const order = round % 2 === 0 ? servers : [...servers].reverse();
        for (const server of order) {
          const r = await pushPull(server, image);
          const key = `${server.name}/${name}`;
          const b = best.get(key) ?? { push: Infinity, pull: Infinity, pushMem: 0, pullMem: 0 };
          best.set(key, {
            push: Math.min(b.push, r.push.seconds),
            pull: Math.min(b.pull, r.pull.seconds),
            pushMem: Math.max(b.pushMem, r.push.peakGrowth),
            pullMem: Math.max(b.pullMem, r.pull.peakGrowth),
          });
        }
      }
    } finally {
      for (const s of servers) await s.stop();
    }
  }
  console.log(`\nbest of ${ROUNDS} rounds; memory = the server's peak resident growth during the transfer (worst round)\n`);
  console.log('image  server           push MB/s  pull MB/s  push mem MB  pull mem MB');
  for (const [name, image] of Object.entries(images)) {
    for (const s of serverNames) {
      const b = best.get(`${s}/${name}`)!;
      console.log(
        `${name.padEnd(6)} ${s.padEnd(16)} ${(image.bytes / MiB / b.push).toFixed(1).padStart(9)}  ${(image.bytes / MiB / b.pull).toFixed(1).padStart(9)}  ${mb(b.pushMem).padStart(11)}  ${mb(b.pullMem).padStart(11)}`,
      );
    }
  }
  console.log('\nratios berth / docker-registry (throughput: higher is better; target >= 0.8)');
  for (const name of Object.keys(images)) {
    const a = best.get(`berth/${name}`)!;
    const d = best.get(`docker-registry/${name}`)!;
    console.log(`${name.padEnd(6)} push ${(d.push / a.push).toFixed(2)}x  pull ${(d.pull / a.pull).toFixed(2)}x`);
  }
  const bs = best.get('berth/small')!;
  const bb = best.get('berth/big')!;
  console.log(
    `\nberth memory growth, small (${mb(images.small.bytes)} MB) -> big (${mb(images.big.bytes)} MB): push ${mb(bs.pushMem)} -> ${mb(bb.pushMem)} MB, pull ${mb(bs.pullMem)} -> ${mb(bb.pullMem)} MB (flat if about equal)`,
  );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
