/**
 * Root credentials and the account id. Set by BERTH_ROOT_ACCESS_KEY_ID /
 * BERTH_ROOT_SECRET_ACCESS_KEY (and optionally BERTH_ACCOUNT_ID) on first start, otherwise
 * generated; kept in `<data-dir>/credentials.json` with mode 0600 and reused on every start.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync, renameSync, chmodSync } from 'node:fs';
import { join } from 'node:path';

export interface RootCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  accountId: string;
}

export const CREDENTIALS_FILE = 'credentials.json';

const KEY_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function generate(env: NodeJS.ProcessEnv): RootCredentials {
  const accessKeyId =
    env.BERTH_ROOT_ACCESS_KEY_ID ?? `AKIA${Array.from(randomBytes(16), (b) => KEY_ALPHABET[b % 32]).join('')}`;
  const secretAccessKey = env.BERTH_ROOT_SECRET_ACCESS_KEY ?? randomBytes(30).toString('base64').replace(/[+/=]/g, 'x').slice(0, 40);
  const accountId = env.BERTH_ACCOUNT_ID ?? String(randomInt(100_000_000_000, 999_999_999_999));
  return { accessKeyId, secretAccessKey, accountId };
}

/** Reads the data dir's credentials, creating them on first start. */
export function loadOrCreateCredentials(dataDir: string, env: NodeJS.ProcessEnv = process.env): RootCredentials {
  const path = join(dataDir, CREDENTIALS_FILE);
  if (existsSync(path)) {
    const creds = JSON.parse(readFileSync(path, 'utf8')) as RootCredentials;
    if (env.BERTH_ROOT_ACCESS_KEY_ID && env.BERTH_ROOT_ACCESS_KEY_ID !== creds.accessKeyId) {
      process.emitWarning(`BERTH_ROOT_ACCESS_KEY_ID is ignored: ${path} already holds this data dir's root credentials.`);
    }
    return creds;
  }
  if (env.BERTH_ACCOUNT_ID && !/^\d{12}$/.test(env.BERTH_ACCOUNT_ID)) throw new Error('BERTH_ACCOUNT_ID must be 12 digits.');
  if (Boolean(env.BERTH_ROOT_ACCESS_KEY_ID) !== Boolean(env.BERTH_ROOT_SECRET_ACCESS_KEY)) {
    throw new Error('Set both BERTH_ROOT_ACCESS_KEY_ID and BERTH_ROOT_SECRET_ACCESS_KEY, or neither.');
  }
  const creds = generate(env);
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, JSON.stringify(creds, null, 2) + '\n', { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
  return creds;
}

/** Reads existing credentials without creating any (for `berth credentials`). */
export function readCredentials(dataDir: string): RootCredentials | undefined {
  const path = join(dataDir, CREDENTIALS_FILE);
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as RootCredentials) : undefined;
}
