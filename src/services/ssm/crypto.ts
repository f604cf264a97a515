/**
 * Encryption at rest for SecureString values: AES-256-GCM (node:crypto) under a master key
 * that never enters the state database. The key comes from BERTH_MASTER_KEY (base64 of 32
 * bytes) when set, otherwise from `<dataDir>/master.key` (created on first use, mode 0600).
 *
 * A sealed value is `base64(version byte | 12-byte IV | 16-byte tag | ciphertext)`; the AAD binds
 * it to the parameter's region and name so a blob cannot be replayed under another parameter.
 * The base64 text is also what GetParameter returns without WithDecryption.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const FORMAT = 1;
const keys = new Map<string, Buffer>();

/** Loads (or creates) the master key for a data dir. Throws if BERTH_MASTER_KEY is malformed. */
export function masterKey(dataDir: string, env: NodeJS.ProcessEnv = process.env): Buffer {
  const fromEnv = env.BERTH_MASTER_KEY;
  if (fromEnv) {
    const k = Buffer.from(fromEnv, 'base64');
    if (k.length !== 32) throw new Error('BERTH_MASTER_KEY must be the base64 encoding of exactly 32 bytes.');
    return k;
  }
  const cached = keys.get(dataDir);
  if (cached) return cached;
  const path = join(dataDir, 'master.key');
  let key: Buffer;
  try {
    key = Buffer.from(readFileSync(path, 'utf8').trim(), 'base64');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    const fresh = randomBytes(32);
    try {
      writeFileSync(path, fresh.toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
      chmodSync(path, 0o600);
      key = fresh;
    } catch (e2) {
      if ((e2 as NodeJS.ErrnoException).code !== 'EEXIST') throw e2;
      key = Buffer.from(readFileSync(path, 'utf8').trim(), 'base64');
    }
  }
  if (key.length !== 32) throw new Error(`${path} does not hold a 32-byte key (base64).`);
  keys.set(dataDir, key);
  return key;
}

/** Encrypts `plaintext` for the parameter identified by `aad` (e.g. `region/name`). */
export function seal(key: Buffer, aad: string, plaintext: string): string {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(Buffer.from(aad, 'utf8'));
  const ct = Buffer.concat([c.update(plaintext, 'utf8'), c.final()]);
  return Buffer.concat([Buffer.from([FORMAT]), iv, c.getAuthTag(), ct]).toString('base64');
}

/** Decrypts a value made by {@link seal}; throws if the key, AAD or blob do not match. */
export function open(key: Buffer, aad: string, sealed: string): string {
  const b = Buffer.from(sealed, 'base64');
  if (b.length < 29 || b[0] !== FORMAT) throw new Error('not a sealed Berth value');
  const d = createDecipheriv('aes-256-gcm', key, b.subarray(1, 13));
  d.setAAD(Buffer.from(aad, 'utf8'));
  d.setAuthTag(b.subarray(13, 29));
  return Buffer.concat([d.update(b.subarray(29)), d.final()]).toString('utf8');
}
