/**
 * The key SecureString values are sealed under: AES-256-GCM (node:crypto) with a 32-byte key
 * that never enters the state store. The composition root loads it once at startup
 * ({@link MasterKey.load}) and hands it to the SSM API; nothing else reads the key material,
 * which stays in a private field (not enumerable, not serialised, not shown by `inspect`).
 *
 * Where the key comes from: BERTH_MASTER_KEY (base64 of exactly 32 bytes) when set, otherwise
 * `<dataDir>/master.key` (base64, created with a fresh random key on first start, mode 0600).
 * A malformed key fails the start rather than the first SecureString.
 *
 * A sealed value is `base64(version byte 1 | 12-byte IV | 16-byte tag | ciphertext)` with the
 * caller's AAD (for parameters `ssm:<region>/<name>`, see ./parameters.ts), the format every
 * existing data dir holds. The base64 text is also what GetParameter returns without
 * WithDecryption.
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, linkSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The key file in the data dir (used when BERTH_MASTER_KEY is not set). */
export const MASTER_KEY_FILE = 'master.key';

/** The first byte of every sealed value: the format (AES-256-GCM, 12-byte IV, 16-byte tag). */
const FORMAT = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = 1 + IV_BYTES + TAG_BYTES;

/** A loaded master key: seals and opens values, and never gives its bytes away. */
export class MasterKey {
  readonly #key: Buffer;

  /** `malformed` is the error to throw when `key` is not 32 bytes, naming where it came from. */
  private constructor(key: Buffer, malformed: string) {
    if (key.length !== 32) throw new Error(malformed);
    this.#key = key;
  }

  /**
   * The key of a Berth: from `env.BERTH_MASTER_KEY` if set, else `<dataDir>/master.key`,
   * created (0600, never overwritten) if missing. Throws when either holds anything but 32 bytes.
   */
  static load(dataDir: string, env: NodeJS.ProcessEnv): MasterKey {
    const fromEnv = env.BERTH_MASTER_KEY;
    if (fromEnv) return new MasterKey(Buffer.from(fromEnv, 'base64'), 'BERTH_MASTER_KEY must be the base64 encoding of exactly 32 bytes.');
    const path = join(dataDir, MASTER_KEY_FILE);
    if (!existsSync(path)) {
      // Written aside, then linked into place: the file appears whole or not at all, and of two
      // processes starting on one data dir only one key wins (link fails if the name exists).
      const fresh = randomBytes(32);
      const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
      writeFileSync(tmp, fresh.toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
      try {
        linkSync(tmp, path);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      } finally {
        rmSync(tmp, { force: true });
      }
    }
    // Older Berths or a restore may have left it readable by others: it is a secret.
    chmodSync(path, 0o600);
    return new MasterKey(Buffer.from(readFileSync(path, 'utf8').trim(), 'base64'), `${path} does not hold a 32-byte key (base64); restore it from a backup of the data dir.`);
  }

  /** A key from its raw 32 bytes (tools and tests). */
  static fromBytes(key: Buffer): MasterKey {
    return new MasterKey(Buffer.from(key), `A master key is 32 bytes: got ${key.length}.`);
  }

  /** Encrypts `plaintext`, bound to `aad`: it only opens with the same key and AAD. A fresh IV every time. */
  seal(aad: string, plaintext: string): string {
    const iv = randomBytes(IV_BYTES);
    const c = createCipheriv('aes-256-gcm', this.#key, iv);
    c.setAAD(Buffer.from(aad, 'utf8'));
    const ct = Buffer.concat([c.update(plaintext, 'utf8'), c.final()]);
    return Buffer.concat([Buffer.from([FORMAT]), iv, c.getAuthTag(), ct]).toString('base64');
  }

  /**
   * An HMAC-SHA256 of `message` under a key derived from this one for `purpose` (HKDF-SHA256):
   * tokens only this Berth can make (CloudFormation's presigned signal URLs), each purpose with
   * its own key, the master key itself never used for them.
   */
  mac(purpose: string, message: string): Buffer {
    const derived = Buffer.from(hkdfSync('sha256', this.#key, Buffer.alloc(0), `berth mac: ${purpose}`, 32));
    return createHmac('sha256', derived).update(message, 'utf8').digest();
  }

  /** Decrypts a value made by {@link seal}; throws if the key, the AAD or the blob do not match. */
  open(aad: string, sealed: string): string {
    const b = Buffer.from(sealed, 'base64');
    if (b.length < HEADER_BYTES || b[0] !== FORMAT) throw new Error('not a sealed Berth value');
    const d = createDecipheriv('aes-256-gcm', this.#key, b.subarray(1, 1 + IV_BYTES));
    d.setAAD(Buffer.from(aad, 'utf8'));
    d.setAuthTag(b.subarray(1 + IV_BYTES, HEADER_BYTES));
    return Buffer.concat([d.update(b.subarray(HEADER_BYTES)), d.final()]).toString('utf8');
  }
}
