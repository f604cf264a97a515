// Unit tests of SecureString sealing: AES-256-GCM round trip, AAD binding, key sources.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { masterKey, open, seal } from '../../src/services/ssm/crypto.js';

test('seal/open round-trips, and a blob only opens under its own key and parameter', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-key-'));
  try {
    const key = masterKey(dir, {});
    assert.equal(key.length, 32);
    assert.equal(statSync(join(dir, 'master.key')).mode & 0o777, 0o600);
    assert.deepEqual(masterKey(dir, {}), key, 'the key file is reused');
    assert.deepEqual(Buffer.from(readFileSync(join(dir, 'master.key'), 'utf8').trim(), 'base64'), key);
    const blob = seal(key, 'ssm:us-east-1//a', 'hunter2');
    assert.notEqual(seal(key, 'ssm:us-east-1//a', 'hunter2'), blob, 'fresh IV each time');
    assert.equal(open(key, 'ssm:us-east-1//a', blob), 'hunter2');
    assert.throws(() => open(key, 'ssm:us-east-1//b', blob));
    assert.throws(() => open(randomBytes(32), 'ssm:us-east-1//a', blob));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('BERTH_MASTER_KEY overrides the key file and must be 32 bytes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-key-'));
  try {
    const k = randomBytes(32);
    assert.deepEqual(masterKey(dir, { BERTH_MASTER_KEY: k.toString('base64') }), k);
    assert.throws(() => masterKey(dir, { BERTH_MASTER_KEY: randomBytes(16).toString('base64') }), /32 bytes/);
    assert.throws(() => statSync(join(dir, 'master.key')), /ENOENT/, 'no key file is written when the env key is used');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
