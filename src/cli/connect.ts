/**
 * How the `berth` CLI's client commands find a control plane and credentials: flags first,
 * then the standard AWS environment variables, then a local data dir's credentials.json and
 * endpoint file (what `berth up` writes).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ClientConfig } from '../client/awsClient.js';
import { readCredentials } from '../config/credentials.js';
import { ENDPOINT_FILE } from '../berth.js';

export class UsageError extends Error {}

export function clientConfigFrom(values: { server?: string; 'data-dir'?: string; region?: string }, env: NodeJS.ProcessEnv = process.env): ClientConfig {
  const dataDir = resolve(values['data-dir'] ?? env.BERTH_DATA_DIR ?? '.berth');
  const stored = readCredentials(dataDir);
  const endpointFile = join(dataDir, ENDPOINT_FILE);
  const endpoint =
    values.server ?? env.AWS_ENDPOINT_URL ?? (existsSync(endpointFile) ? readFileSync(endpointFile, 'utf8').trim() : undefined) ?? 'http://127.0.0.1:4566';
  const accessKeyId = env.AWS_ACCESS_KEY_ID ?? stored?.accessKeyId;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY ?? stored?.secretAccessKey;
  if (!accessKeyId || !secretAccessKey) {
    throw new UsageError(`No credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (see 'berth credentials --export'), or pass --data-dir of a Berth on this machine.`);
  }
  return { endpoint, region: values.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1', accessKeyId, secretAccessKey };
}
