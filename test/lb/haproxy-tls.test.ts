// HTTPS on the HAProxy plane when no RAM-backed directory is available for its certificate
// files: the listener is refused with a reason naming the problem (keys never go to disk), the
// HTTP listeners keep serving, and nothing with a key is written anywhere Berth was given. The
// SNI behaviour itself is in conformance/planes.test.ts (both planes). Real haproxy (skipped
// when not installed), real openssl for the certificate.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, mkdirSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ElasticLoadBalancingV2Client, CreateListenerCommand, CreateLoadBalancerCommand, RegisterTargetsCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { startTestBerth, eventually } from '../helpers/fixture.js';
import { fileSystemOf, ramDirProblem, sweepStale } from '../../src/lb/haproxy/secrets.js';
import { tlsBindOptions } from '../../src/lb/haproxy/config.js';
import { createTestTargetGroup, freePort, get, startBackend } from './backends.js';
import { selfSignedCertificate, filesContaining } from './tls.js';

const HAPROXY = spawnSync('sh', ['-c', 'command -v haproxy']).stdout?.toString().trim() ?? '';
const OPENSSL = spawnSync('sh', ['-c', 'command -v openssl']).stdout?.toString().trim() ?? '';

const MOUNTS = ['/dev/sda1 / ext4 rw 0 0', 'tmpfs /dev/shm tmpfs rw 0 0', '/dev/sdb1 /srv/my\\040data xfs rw 0 0', 'tmpfs /run tmpfs rw 0 0', ''].join('\n');

test('the file system of a path is its longest mount point in /proc/mounts', () => {
  assert.equal(fileSystemOf('/dev/shm/x/y', MOUNTS), 'tmpfs');
  assert.equal(fileSystemOf('/dev/shmx', MOUNTS), 'ext4', 'a prefix that is not a path component does not count');
  assert.equal(fileSystemOf('/srv/my data/keys', MOUNTS), 'xfs', 'octal escapes in mount points');
  assert.equal(fileSystemOf('/var/lib', MOUNTS), 'ext4');
  assert.equal(fileSystemOf('/var/lib', ''), undefined);
});

test('only a RAM-backed directory may hold the keys, and a refusal names the problem', () => {
  const real = fileSystemOf('/dev/shm');
  if (real === 'tmpfs') assert.equal(ramDirProblem('/dev/shm'), undefined);
  assert.match(ramDirProblem('/nonexistent-berth-dir') ?? '', /does not exist/);
  // The real directory checked against a mounts table that puts it on disk.
  assert.match(ramDirProblem(tmpdir(), '/dev/sda1 / ext4 rw 0 0\n') ?? '', /is on ext4, not a RAM-backed file system \(tmpfs\)/);
  assert.match(ramDirProblem(tmpdir(), '') ?? '', /unknown/);
});

test('certificate directories of Berths that died are swept; live ones and others are kept', () => {
  const base = mkdtempSync(join(tmpdir(), 'berth-sweep-'));
  try {
    const dead = spawnSync('true').pid!;
    const names = [`berth-haproxy-${dead}-abcdef`, `berth-haproxy-${process.pid}-abcdef`, 'berth-haproxy-1-abcdef', 'unrelated'];
    for (const n of names) mkdirSync(join(base, n));
    sweepStale(base);
    assert.deepEqual(readdirSync(base).sort(), names.slice(1).sort());
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test('bind options: the crt-list, ALPN h2 and http/1.1 and the policy\'s versions and ciphers', () => {
  const legacy = tlsBindOptions('/dev/shm/d/l.crtlist', 'ELBSecurityPolicy-2016-08');
  assert.match(legacy, /^ssl crt-list "\/dev\/shm\/d\/l\.crtlist" alpn h2,http\/1\.1 ssl-min-ver TLSv1\.2 ssl-max-ver TLSv1\.2 ciphers ECDHE-ECDSA-AES128-GCM-SHA256:/);
  assert.doesNotMatch(legacy, /ciphersuites/);
  const tls13 = tlsBindOptions('/dev/shm/d/l.crtlist', 'ELBSecurityPolicy-TLS13-1-3-2021-06');
  assert.match(tls13, /ssl-min-ver TLSv1\.3 ssl-max-ver TLSv1\.3/);
  assert.match(tls13, /ciphersuites TLS_AES_128_GCM_SHA256/);
  assert.doesNotMatch(tls13, / ciphers /);
});

const skip = !HAPROXY ? 'haproxy is not installed (apt-get install -y haproxy)' : !OPENSSL ? 'openssl is not installed (apt-get install -y openssl)' : false;

test('no RAM-backed directory: the HAProxy plane refuses the HTTPS listener, naming why, and keeps serving HTTP', { skip }, async (t) => {
  // A directory on disk to offer as the secrets directory (the temp dir, unless that is a tmpfs).
  const diskBase = fileSystemOf(tmpdir()) === 'tmpfs' ? process.cwd() : tmpdir();
  if (['tmpfs', 'ramfs'].includes(fileSystemOf(diskBase) ?? '')) return t.skip('no disk-backed directory to offer');
  const work = mkdtempSync(join(diskBase, 'berth-notram-'));
  const secretsDir = join(work, 'secrets');
  mkdirSync(secretsDir);
  const berth = await startTestBerth({ loadBalancer: { plane: 'haproxy', secondMs: 50, haproxySecretsDir: secretsDir } });
  const elb = new ElasticLoadBalancingV2Client(berth.clientConfig);
  const b = await startBackend('plain');
  try {
    const cert = selfSignedCertificate(work, 'site', ['site.example']);
    const lb = (await elb.send(new CreateLoadBalancerCommand({ Name: 'notram', Subnets: ['subnet-a', 'subnet-b'] }))).LoadBalancers![0]!.LoadBalancerArn!;
    const tg = await createTestTargetGroup(elb, 'notram');
    await elb.send(new RegisterTargetsCommand({ TargetGroupArn: tg, Targets: [{ Id: '127.0.0.1', Port: b.port }] }));
    const httpsPort = await freePort();
    const httpPort = await freePort();
    const forward = [{ Type: 'forward' as const, TargetGroupArn: tg }];
    await elb.send(new CreateListenerCommand({ LoadBalancerArn: lb, Protocol: 'HTTPS', Port: httpsPort, Certificates: [{ CertificateArn: cert }], DefaultActions: forward }));
    await elb.send(new CreateListenerCommand({ LoadBalancerArn: lb, Protocol: 'HTTP', Port: httpPort, DefaultActions: forward }));
    await berth.loadBalancer.settled();
    const why = berth.loadBalancer.bindErrors.get(httpsPort) ?? '';
    assert.match(why, /HTTPS listeners are not served by the HAProxy plane/);
    assert.match(why, /not a RAM-backed file system \(tmpfs\)/);
    assert.ok(why.includes(secretsDir), `names the directory: ${why}`);
    assert.equal(berth.loadBalancer.serving(httpsPort), false);
    await eventually(async () => (await get(httpPort, '/x').catch(() => ({ headers: {} as Record<string, string> }))).headers['x-backend'] === 'plain', { what: 'the HTTP listener serves' });
    assert.deepEqual(filesContaining(secretsDir, 'PRIVATE KEY'), [], 'no key in the refused directory');
    assert.deepEqual(filesContaining(berth.dataDir, 'PRIVATE KEY'), [], 'no key under the data dir');
  } finally {
    elb.destroy();
    await berth.close();
    await b.close();
    rmSync(work, { recursive: true, force: true });
  }
});
