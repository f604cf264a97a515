// Real clients against Berth's registry: `docker login` with `aws ecr get-login-password`,
// `docker push` of a multi-layer image built here, `docker rmi` and `docker pull` (and running
// it), `skopeo copy` both ways (docker-archive: and dir: to Berth, Berth to dir:), `skopeo
// inspect`, and a multi-platform OCI index pushed with `skopeo copy --all` and pulled by digest
// by both; `aws ecr describe-images` agrees on digests and sizes. Skipped, with the reason, when
// docker, skopeo or the aws CLI is missing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { awsOk, hasAwsCli, startTestBerth, type TestBerth } from '../helpers/fixture.js';
import { BUSYBOX_IMAGE, ensureBusyboxImage, tarFiles } from '../helpers/images.js';
import { MT, dockerWorks, hasProgram, sha256, v2 } from './helpers.js';

const why = !hasAwsCli() ? 'aws CLI not installed' : !hasProgram('skopeo') ? 'skopeo not installed' : !dockerWorks() ? 'docker daemon not reachable' : undefined;

let berth: TestBerth;
let work: string;
let password: string;
let addr: string;
const localTags: string[] = [];

/** Runs a program; resolves with its output, rejects with it when it fails. */
function run(cmd: string, args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')} failed (${code}):\n${out}\n${err}`))));
    p.stdin.end(opts.input ?? '');
  });
}

const docker = (...args: string[]) => run('docker', ['--config', join(work, 'docker-config'), ...args]);
const skopeo = (...args: string[]) => run('skopeo', args);
const creds = () => `AWS:${password}`;

before(async () => {
  if (why) return;
  berth = await startTestBerth();
  addr = berth.registry.address;
  work = mkdtempSync(join(tmpdir(), 'berth-clients-'));
  mkdirSync(join(work, 'docker-config'));
  for (const name of ['clients/app', 'clients/copy', 'clients/archive', 'clients/multi']) await awsOk(berth.awsEnv, ['ecr', 'create-repository', '--repository-name', name]);
  password = (await run(process.env.BERTH_TEST_AWS ?? 'aws', ['--endpoint-url', berth.url, 'ecr', 'get-login-password'], { env: berth.awsEnv })).trim();
});

after(async () => {
  if (why) return;
  for (const t of localTags) await docker('rmi', '-f', t).catch(() => undefined);
  rmSync(work, { recursive: true, force: true });
  await berth.close();
});

test('docker login with aws ecr get-login-password; push a multi-layer image; describe-images agrees; rmi, pull and run it', { skip: why }, async () => {
  const login = await run('docker', ['--config', join(work, 'docker-config'), 'login', '--username', 'AWS', '--password-stdin', addr], { input: password });
  assert.match(login, /Login Succeeded/);
  await ensureBusyboxImage();
  // A FROM-scratch busybox image plus a few files: several layers, built here.
  const ctx = join(work, 'ctx');
  mkdirSync(ctx);
  const stamp = `${process.pid}-${Date.now()}`;
  writeFileSync(join(ctx, 'a.txt'), `first file ${stamp}\n`);
  writeFileSync(join(ctx, 'b.bin'), Buffer.alloc(300_000, 1));
  writeFileSync(join(ctx, 'Dockerfile'), `FROM ${BUSYBOX_IMAGE}\nCOPY a.txt /files/a.txt\nCOPY b.bin /files/b.bin\nRUN ["/bin/sh", "-c", "echo built > /files/c.txt"]\n`);
  const local = `berth-test/registry-clients:${stamp}`;
  localTags.push(local);
  await docker('build', '--network', 'none', '-t', local, ctx);
  const remote = `${addr}/clients/app:v1`;
  localTags.push(remote);
  await docker('tag', local, remote);
  const pushed = await docker('push', remote);
  const m = /digest: (sha256:[0-9a-f]{64}) size: (\d+)/.exec(pushed);
  assert.ok(m, pushed);
  const digest = m[1]!;

  const manifest = (await v2(berth, 'GET', '/v2/clients/app/manifests/v1', { auth: `Basic ${Buffer.from(creds()).toString('base64')}` })).json();
  assert.equal(manifest.mediaType, MT.dockerManifest);
  assert.ok(manifest.layers.length >= 5, `${manifest.layers.length} layers`);
  const described = await awsOk(berth.awsEnv, ['ecr', 'describe-images', '--repository-name', 'clients/app']);
  assert.equal(described.imageDetails.length, 1);
  const d = described.imageDetails[0];
  assert.equal(d.imageDigest, digest);
  assert.deepEqual(d.imageTags, ['v1']);
  assert.equal(d.imageSizeInBytes, manifest.layers.reduce((n: number, l: { size: number }) => n + l.size, 0));
  assert.equal(d.imageManifestMediaType, MT.dockerManifest);

  // Gone from the engine entirely, then pulled back from Berth.
  await docker('rmi', '-f', local, remote);
  await assert.rejects(docker('image', 'inspect', remote));
  const pulled = await docker('pull', remote);
  assert.match(pulled, new RegExp(`Digest: ${digest}`));
  const out = await docker('run', '--rm', '--network', 'none', remote, '/bin/cat', '/files/a.txt', '/files/c.txt');
  assert.equal(out, `first file ${stamp}\nbuilt\n`);
  // And by digest.
  await docker('rmi', '-f', remote);
  await docker('pull', `${addr}/clients/app@${digest}`);
  localTags.push(`${addr}/clients/app@${digest}`);
});

test('skopeo: inspect; copy Berth -> dir:, dir: -> Berth, docker-archive: -> Berth; digests kept', { skip: why }, async () => {
  const inspected = JSON.parse(await skopeo('inspect', '--tls-verify=false', '--creds', creds(), `docker://${addr}/clients/app:v1`));
  assert.deepEqual(inspected.RepoTags, ['v1']);
  const digest = inspected.Digest;
  const dir = join(work, 'dir-copy');
  await skopeo('copy', '--src-tls-verify=false', '--src-creds', creds(), `docker://${addr}/clients/app:v1`, `dir:${dir}`);
  const files = readdirSync(dir);
  assert.ok(files.includes('manifest.json'));
  assert.equal(sha256(readFileSync(join(dir, 'manifest.json'))), digest);
  for (const l of JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')).layers) assert.equal(sha256(readFileSync(join(dir, l.digest.slice(7)))), l.digest);
  await skopeo('copy', '--preserve-digests', '--dest-tls-verify=false', '--dest-creds', creds(), `dir:${dir}`, `docker://${addr}/clients/copy:from-dir`);
  const copied = JSON.parse(await skopeo('inspect', '--tls-verify=false', '--creds', creds(), `docker://${addr}/clients/copy:from-dir`));
  assert.equal(copied.Digest, digest);
  // docker save -> docker-archive: -> Berth.
  const archive = join(work, 'image.tar');
  await docker('save', '-o', archive, `${addr}/clients/app@${digest}`);
  await skopeo('copy', '--dest-tls-verify=false', '--dest-creds', creds(), `docker-archive:${archive}`, `docker://${addr}/clients/archive:v1`);
  const fromArchive = await awsOk(berth.awsEnv, ['ecr', 'describe-images', '--repository-name', 'clients/archive', '--image-ids', 'imageTag=v1']);
  const raw = JSON.parse(await skopeo('inspect', '--raw', '--tls-verify=false', '--creds', creds(), `docker://${addr}/clients/archive:v1`));
  assert.equal(fromArchive.imageDetails[0].imageSizeInBytes, raw.layers.reduce((n: number, l: { size: number }) => n + l.size, 0));
  assert.equal(fromArchive.imageDetails[0].imageDigest, sha256(await skopeo('inspect', '--raw', '--tls-verify=false', '--creds', creds(), `docker://${addr}/clients/archive:v1`)));
});

/** Writes an OCI layout holding an index of two single-layer images (host platform and one other). */
function ociLayout(dir: string, hostArch: string): { indexDigest: string; index: Buffer; children: Record<string, { digest: string; text: string }> } {
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  const put = (bytes: Buffer | string) => {
    const d = sha256(bytes);
    writeFileSync(join(dir, 'blobs', 'sha256', d.slice(7)), bytes);
    return { digest: d, size: Buffer.byteLength(bytes) };
  };
  const children: Record<string, { digest: string; text: string }> = {};
  const manifests = [];
  for (const arch of [hostArch, hostArch === 'amd64' ? 'arm64' : 'amd64']) {
    const text = `built for ${arch}\n`;
    const tar = tarFiles([{ name: 'platform.txt', data: text }]);
    const layer = put(gzipSync(tar));
    const config = put(JSON.stringify({ architecture: arch, os: 'linux', config: { Cmd: ['/platform.txt'] }, rootfs: { type: 'layers', diff_ids: [sha256(tar)] } }));
    const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MT.ociManifest, config: { mediaType: MT.ociConfig, ...config }, layers: [{ mediaType: MT.ociLayer, ...layer }] }));
    const m = put(manifest);
    children[arch] = { digest: m.digest, text };
    manifests.push({ mediaType: MT.ociManifest, ...m, platform: { os: 'linux', architecture: arch } });
  }
  const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MT.ociIndex, manifests }));
  const i = put(index);
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: MT.ociIndex, ...i, annotations: { 'org.opencontainers.image.ref.name': 'multi' } }] }));
  return { indexDigest: i.digest, index, children };
}

test('a multi-platform OCI index: skopeo copy --all pushes it; pulled by digest with skopeo (both platforms) and docker (this one)', { skip: why }, async () => {
  const hostArch = (await docker('info', '--format', '{{.Architecture}}')).trim() === 'aarch64' ? 'arm64' : 'amd64';
  const layout = join(work, 'layout');
  const { indexDigest, index, children } = ociLayout(layout, hostArch);
  await skopeo('copy', '--all', '--preserve-digests', '--dest-tls-verify=false', '--dest-creds', creds(), `oci:${layout}:multi`, `docker://${addr}/clients/multi:latest`);
  const described = await awsOk(berth.awsEnv, ['ecr', 'describe-images', '--repository-name', 'clients/multi']);
  const byDigest = new Map(described.imageDetails.map((x: any) => [x.imageDigest, x]));
  assert.equal(byDigest.size, 3, 'the index and its two images');
  assert.equal((byDigest.get(indexDigest) as any).imageManifestMediaType, MT.ociIndex);
  assert.deepEqual((byDigest.get(indexDigest) as any).imageTags, ['latest']);
  // skopeo pulls the whole index by digest, bytes unchanged.
  const out = join(work, 'pulled');
  await skopeo('copy', '--all', '--preserve-digests', '--src-tls-verify=false', '--src-creds', creds(), `docker://${addr}/clients/multi@${indexDigest}`, `oci:${out}:pulled`);
  assert.deepEqual(readFileSync(join(out, 'blobs', 'sha256', indexDigest.slice(7))), index);
  for (const c of Object.values(children)) assert.ok(readdirSync(join(out, 'blobs', 'sha256')).includes(c.digest.slice(7)));
  // docker pulls by the index's digest and gets this machine's platform.
  const ref = `${addr}/clients/multi@${indexDigest}`;
  localTags.push(ref);
  await docker('pull', ref);
  const arch = (await docker('image', 'inspect', '--format', '{{.Architecture}}', ref)).trim();
  assert.equal(arch, hostArch);
  // The other platform's layer, through skopeo.
  const other = hostArch === 'amd64' ? 'arm64' : 'amd64';
  const otherDir = join(work, 'other');
  await skopeo('copy', '--override-arch', other, '--src-tls-verify=false', '--src-creds', creds(), `docker://${addr}/clients/multi@${indexDigest}`, `dir:${otherDir}`);
  assert.equal(sha256(readFileSync(join(otherDir, 'manifest.json'))), children[other]!.digest);
});
