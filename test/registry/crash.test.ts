// Crash safety of the registry: a real `berth up` is killed with SIGKILL in the middle of two
// ~100 MB blob pushes (one chunked, one monolithic) and restarted on the same data dir. No
// partial blob is ever served (HEAD of the digest is 404 throughout, and after the restart);
// the chunked upload resumes from what reached the disk, the monolithic one is retried from
// scratch, and both complete with the right bytes. The registry password survives the restart
// (it is bound to the root credentials, which do).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { request, type ClientRequest } from 'node:http';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from '../helpers/fixture.js';
import { spawnBerth, type BerthProcess } from '../helpers/processes.js';
import { ecrOk, registryAuth, v2, type Endpoint } from './helpers.js';

const SIZE = 100 * 1024 * 1024;
const CHUNK = 1024 * 1024;
const dataDir = mkdtempSync(join(tmpdir(), 'berth-crash-'));
after(() => rmSync(dataDir, { recursive: true, force: true }));

/** The blob's bytes [start, end): deterministic, different for each `seed`, made on demand. */
function bytes(seed: number, start: number, end: number): Buffer {
  const b = Buffer.allocUnsafe(end - start);
  for (let p = start; p < end; p++) b[p - start] = ((p >>> 10) * 131 + (p & 1023) * 7 + seed) & 0xff;
  return b;
}

function digestOf(seed: number): string {
  const h = createHash('sha256');
  for (let p = 0; p < SIZE; p += CHUNK) h.update(bytes(seed, p, Math.min(SIZE, p + CHUNK)));
  return `sha256:${h.digest('hex')}`;
}

/** Starts a streaming request; `send(from, to)` writes that part of blob `seed` with backpressure. */
function streaming(url: string, method: string, path: string, headers: Record<string, string>): { req: ClientRequest; send(seed: number, from: number, to: number): Promise<void>; done: Promise<number> } {
  const req = request(url + path, { method, headers });
  const done = new Promise<number>((resolve) => {
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(-1));
  });
  return {
    req,
    done,
    async send(seed, from, to) {
      for (let p = from; p < to; p += CHUNK) {
        if (!req.write(bytes(seed, p, Math.min(to, p + CHUNK)))) await new Promise((r) => req.once('drain', r));
      }
    },
  };
}

async function start(): Promise<{ up: BerthProcess; ep: Endpoint }> {
  const env = { BERTH_ROOT_ACCESS_KEY_ID: 'AKIACRASHTEST0000001', BERTH_ROOT_SECRET_ACCESS_KEY: 'crash-test-secret-key-0000000000000000000', BERTH_LOG_LEVEL: 'warn' };
  const up = await spawnBerth(['--no-agent', '--data-dir', dataDir], env);
  return { up, ep: { url: up.url, credentials: { accessKeyId: env.BERTH_ROOT_ACCESS_KEY_ID, secretAccessKey: env.BERTH_ROOT_SECRET_ACCESS_KEY } } };
}

/** Every file under the registry's blobs/ is named by the sha256 of its bytes (no partial blob). */
function blobsOnDisk(): string[] {
  const top = join(dataDir, 'registry', 'blobs', 'sha256');
  const out: string[] = [];
  for (const p of readdirSync(top)) {
    for (const hex of readdirSync(join(top, p))) {
      const file = join(top, p, hex);
      assert.equal(statSync(file).mode & 0o777, 0o600);
      assert.equal(createHash('sha256').update(readFileSync(file)).digest('hex'), hex, `${file} holds other bytes than its name`);
      out.push(`sha256:${hex}`);
    }
  }
  return out;
}

test('kill -9 during two 100 MB blob pushes: nothing partial is ever served; after a restart one resumes, one is retried, both complete', async () => {
  const chunkedDigest = digestOf(1);
  const monoDigest = digestOf(2);
  let { up, ep } = await start();
  await ecrOk(ep, 'CreateRepository', { repositoryName: 'big' });
  const auth = await registryAuth(ep);
  const headIs404 = async (e: Endpoint) => {
    for (const d of [chunkedDigest, monoDigest]) assert.equal((await v2(e, 'HEAD', `/v2/big/blobs/${d}`, { auth })).status, 404, `${d} must not be served before it is complete`);
  };

  // A chunked upload (PATCH streaming the blob) and a monolithic one (POST ?digest=), at once.
  const loc = (await v2(ep, 'POST', '/v2/big/blobs/uploads/', { auth })).headers.get('location')!;
  const chunked = streaming(ep.url, 'PATCH', loc, { authorization: auth, 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' });
  const mono = streaming(ep.url, 'POST', `/v2/big/blobs/uploads/?digest=${monoDigest}`, { authorization: auth, 'content-type': 'application/octet-stream', 'content-length': String(SIZE) });
  for (let p = 0; p < 48 * CHUNK; p += 8 * CHUNK) {
    await Promise.all([chunked.send(1, p, p + 8 * CHUNK), mono.send(2, p, p + 8 * CHUNK)]);
    await headIs404(ep);
  }
  // Well into both uploads (as the server sees them), the process dies without warning.
  await eventually(async () => {
    const r = await v2(ep, 'GET', loc, { auth });
    return Number(r.headers.get('range')?.split('-')[1]) > 32 * CHUNK;
  }, { what: 'the chunked upload to be 32 MiB in', timeoutMs: 30_000 });
  up.child.kill('SIGKILL');
  assert.equal(await up.exited, 'SIGKILL');
  assert.equal(await chunked.done, -1);
  assert.equal(await mono.done, -1);
  assert.deepEqual(blobsOnDisk(), [], 'no blob, complete or partial, was published');

  ({ up, ep } = await start());
  try {
    await headIs404(ep);
    // The chunked session is still there, holding what reached the disk.
    const status = await v2(ep, 'GET', loc, { auth });
    assert.equal(status.status, 204, 'the password from before the crash still works, and the session survived');
    const have = Number(status.headers.get('range')!.split('-')[1]) + 1;
    assert.ok(have > 32 * CHUNK && have <= 48 * CHUNK, `${have} bytes kept`);
    // Resume from there.
    const rest = streaming(ep.url, 'PATCH', loc, { authorization: auth, 'content-type': 'application/octet-stream', 'content-range': `${have}-${SIZE - 1}`, 'content-length': String(SIZE - have) });
    await rest.send(1, have, SIZE);
    rest.req.end();
    assert.equal(await rest.done, 202);
    await headIs404(ep);
    const put = await v2(ep, 'PUT', `${loc}?digest=${chunkedDigest}`, { auth });
    assert.equal(put.status, 201, put.body.toString());
    // The monolithic push is retried whole, as a client does.
    const retry = streaming(ep.url, 'POST', `/v2/big/blobs/uploads/?digest=${monoDigest}`, { authorization: auth, 'content-type': 'application/octet-stream', 'content-length': String(SIZE) });
    await retry.send(2, 0, SIZE);
    retry.req.end();
    assert.equal(await retry.done, 201);
    for (const digest of [chunkedDigest, monoDigest]) {
      const head = await v2(ep, 'HEAD', `/v2/big/blobs/${digest}`, { auth });
      assert.equal(head.status, 200);
      assert.equal(Number(head.headers.get('content-length')), SIZE);
      // The bytes served are the blob's, streamed back.
      const res = await fetch(`${ep.url}/v2/big/blobs/${digest}`, { headers: { authorization: auth } });
      const h = createHash('sha256');
      let n = 0;
      for await (const c of res.body as unknown as AsyncIterable<Uint8Array>) {
        h.update(c);
        n += c.length;
      }
      assert.equal(n, SIZE);
      assert.equal(`sha256:${h.digest('hex')}`, digest);
    }
    assert.deepEqual(blobsOnDisk().sort(), [chunkedDigest, monoDigest].sort());
  } finally {
    up.child.kill('SIGTERM');
    await up.exited;
  }
});
