// Which task-definition images name Berth's registry, and how the agent pins one to a digest:
// the registry's own address (default region) or `<account>.dkr.ecr.<region>.<...>` on the same
// port; anything else (Docker Hub, another port, a malformed reference) is not ours.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { registryImageOf } from '../../src/domain/ecr/imageRefs.js';
import type { Registry } from '../../src/domain/ecr/registry.js';
import { pinnedImage } from '../../src/agent/ownedTask.js';
import { registryHostOf } from '../../src/agent/registryLogins.js';

const platform = { accountId: '123456789012', defaultRegion: 'us-east-1' };
const reg = { settings: { address: () => '127.0.0.1:4566' } } as unknown as Registry;
const D = `sha256:${'a'.repeat(64)}`;

test('images of the registry: default address and region hosts, tag, digest, latest by default', () => {
  assert.deepEqual(registryImageOf(platform, reg, '127.0.0.1:4566/team/web:v1'), { region: 'us-east-1', repository: 'team/web', tag: 'v1', digest: undefined });
  assert.deepEqual(registryImageOf(platform, reg, '127.0.0.1:4566/web'), { region: 'us-east-1', repository: 'web', tag: 'latest', digest: undefined });
  assert.deepEqual(registryImageOf(platform, reg, `127.0.0.1:4566/web@${D}`), { region: 'us-east-1', repository: 'web', tag: undefined, digest: D });
  assert.deepEqual(registryImageOf(platform, reg, `127.0.0.1:4566/web:v2@${D}`), { region: 'us-east-1', repository: 'web', tag: 'v2', digest: D });
  assert.deepEqual(registryImageOf(platform, reg, '123456789012.dkr.ecr.eu-west-1.localhost:4566/web:v1'), { region: 'eu-west-1', repository: 'web', tag: 'v1', digest: undefined });
});

test('other registries and malformed references are not ours', () => {
  for (const image of [
    'busybox',
    'library/busybox:1.36',
    'docker.io/library/busybox:latest',
    '127.0.0.1:5000/web:v1',
    '123456789012.dkr.ecr.eu-west-1.localhost:5000/web:v1',
    '999999999999.dkr.ecr.eu-west-1.localhost:4566/web:v1',
    '127.0.0.1:4566/Web:v1',
    '127.0.0.1:4566/web:bad tag',
    '127.0.0.1:4566/web@sha256:short',
    `127.0.0.1:4566/${'a'.repeat(3000)}`,
  ]) {
    assert.equal(registryImageOf(platform, reg, image), undefined, image);
  }
});

test('the agent pins an image to a digest by dropping its tag; a registry host is recognised', () => {
  assert.equal(pinnedImage('127.0.0.1:4566/web:v1', D), `127.0.0.1:4566/web@${D}`);
  assert.equal(pinnedImage('127.0.0.1:4566/web', D), `127.0.0.1:4566/web@${D}`);
  assert.equal(pinnedImage(`127.0.0.1:4566/web@${D}`, `sha256:${'b'.repeat(64)}`), `127.0.0.1:4566/web@${D}`);
  assert.equal(pinnedImage('127.0.0.1:4566/web:v1', undefined), '127.0.0.1:4566/web:v1');
  assert.equal(registryHostOf('127.0.0.1:4566/web:v1'), '127.0.0.1:4566');
  assert.equal(registryHostOf('library/busybox'), undefined);
  assert.equal(registryHostOf('busybox'), undefined);
});
