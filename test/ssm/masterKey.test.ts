// The master key SecureStrings are sealed under: AES-256-GCM round trip and AAD binding, where
// the key comes from (BERTH_MASTER_KEY, else <data-dir>/master.key, 0600), that a malformed key
// fails the start, and that values sealed by earlier Berths still open (the format on disk).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { GetParameterCommand, GetParameterHistoryCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { MasterKey } from '../../src/domain/ssm/masterKey.js';
import { secureStringAad } from '../../src/domain/ssm/parameters.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { startBerth } from '../../src/berth.js';

/**
 * A value sealed by Berth before the parameters domain existed (src/services/ssm/crypto.ts):
 * key bytes 3, 10, 17, … (i * 7 + 3), parameter /legacy/db/password in us-east-1.
 */
const LEGACY = {
  key: 'AwoRGB8mLTQ7QklQV15lbHN6gYiPlp2kq7K5wMfO1dw=',
  region: 'us-east-1',
  name: '/legacy/db/password',
  sealed: 'AbC+Lwm47sFXaPC4V9cuHFlDGTAM3Xxa1j6IStHKlXaY3AFwRYIZraqJ',
  plaintext: 'legacy-s3cret',
};

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'berth-key-'));
}

test('seal/open round-trips, and a blob only opens under its own key and parameter', () => {
  const dir = tempDir();
  try {
    const key = MasterKey.load(dir, {});
    const file = join(dir, 'master.key');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(Buffer.from(readFileSync(file, 'utf8').trim(), 'base64').length, 32);
    const blob = key.seal('ssm:us-east-1//a', 'hunter2');
    assert.notEqual(key.seal('ssm:us-east-1//a', 'hunter2'), blob, 'fresh IV each time');
    assert.equal(key.open('ssm:us-east-1//a', blob), 'hunter2');
    assert.equal(MasterKey.load(dir, {}).open('ssm:us-east-1//a', blob), 'hunter2', 'the key file is reused');
    assert.throws(() => key.open('ssm:us-east-1//b', blob));
    assert.throws(() => MasterKey.fromBytes(randomBytes(32)).open('ssm:us-east-1//a', blob));
    assert.throws(() => key.open('ssm:us-east-1//a', 'bm90IGEgYmxvYg=='), /not a sealed Berth value/);
    // The key material is not reachable by accident (logs, JSON).
    const keyText = readFileSync(file, 'utf8').trim();
    assert.ok(!inspect(key, { showHidden: true }).includes(keyText.slice(0, 12)));
    assert.equal(JSON.stringify(key), '{}');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('values sealed by earlier Berths open: the format and the AAD are unchanged', () => {
  const key = MasterKey.fromBytes(Buffer.from(LEGACY.key, 'base64'));
  assert.equal(secureStringAad(LEGACY.region, LEGACY.name), `ssm:${LEGACY.region}/${LEGACY.name}`);
  assert.equal(key.open(secureStringAad(LEGACY.region, LEGACY.name), LEGACY.sealed), LEGACY.plaintext);
});

test('BERTH_MASTER_KEY overrides the key file and must be 32 bytes; a bad key file is refused', () => {
  const dir = tempDir();
  try {
    const k = randomBytes(32);
    const fromEnv = MasterKey.load(dir, { BERTH_MASTER_KEY: k.toString('base64') });
    assert.equal(MasterKey.fromBytes(k).open('x', fromEnv.seal('x', 'v')), 'v');
    assert.throws(() => MasterKey.load(dir, { BERTH_MASTER_KEY: randomBytes(16).toString('base64') }), /BERTH_MASTER_KEY.*32 bytes/);
    assert.throws(() => statSync(join(dir, 'master.key')), /ENOENT/, 'no key file is written when the env key is used');

    writeFileSync(join(dir, 'master.key'), 'c2hvcnQ=\n', { mode: 0o644 });
    chmodSync(join(dir, 'master.key'), 0o644);
    assert.throws(() => MasterKey.load(dir, {}), /master\.key does not hold a 32-byte key/);
    assert.equal(statSync(join(dir, 'master.key')).mode & 0o777, 0o600, 'a key file readable by others is made private');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('Berth loads the key once at startup: a malformed key fails the start, an existing data dir keeps decrypting', async () => {
  const dir = tempDir();
  try {
    await assert.rejects(startBerth({ port: 0, dataDir: dir, env: { BERTH_MASTER_KEY: 'dG9vIHNob3J0' } }), /BERTH_MASTER_KEY/);

    // A data dir written by an earlier Berth: its state.db holds the sealed value, master.key the key.
    const store = new SqliteStore(join(dir, 'state.db'));
    await store.commit([
      {
        kind: 'ssm.parameter',
        key: `${LEGACY.region}/${LEGACY.name}`,
        expectRev: 0,
        value: {
          name: LEGACY.name,
          tags: [],
          versions: [{ version: 1, type: 'SecureString', value: LEGACY.sealed, keyId: 'alias/aws/ssm', tier: 'Standard', dataType: 'text', labels: [], policies: [], lastModified: Date.UTC(2026, 0, 1), lastModifiedUser: 'arn:aws:iam::000000000000:root' }],
        },
      },
    ]);
    await store.close();
    writeFileSync(join(dir, 'master.key'), `${LEGACY.key}\n`, { mode: 0o600 });

    const berth = await startBerth({ port: 0, dataDir: dir, env: {} });
    const ssm = new SSMClient({ endpoint: berth.url, region: 'us-east-1', credentials: berth.credentials, maxAttempts: 1 });
    try {
      const got = await ssm.send(new GetParameterCommand({ Name: LEGACY.name, WithDecryption: true }));
      assert.equal(got.Parameter!.Value, LEGACY.plaintext);
      // A new version is sealed under the same key, and both read back.
      await ssm.send(new PutParameterCommand({ Name: LEGACY.name, Type: 'SecureString', Value: 'rotated', Overwrite: true }));
      const hist = await ssm.send(new GetParameterHistoryCommand({ Name: LEGACY.name, WithDecryption: true }));
      assert.deepEqual(hist.Parameters!.map((p) => p.Value), [LEGACY.plaintext, 'rotated']);
    } finally {
      ssm.destroy();
      await berth.close();
    }

    // The same data dir with the key given by BERTH_MASTER_KEY (the file's is ignored, so it must be the same key).
    rmSync(join(dir, 'master.key'));
    const viaEnv = await startBerth({ port: 0, dataDir: dir, env: { BERTH_MASTER_KEY: LEGACY.key } });
    const ssm2 = new SSMClient({ endpoint: viaEnv.url, region: 'us-east-1', credentials: viaEnv.credentials, maxAttempts: 1 });
    try {
      const got = await ssm2.send(new GetParameterCommand({ Name: `${LEGACY.name}:1`, WithDecryption: true }));
      assert.equal(got.Parameter!.Value, LEGACY.plaintext);
    } finally {
      ssm2.destroy();
      await viaEnv.close();
    }
    assert.throws(() => statSync(join(dir, 'master.key')), /ENOENT/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
