/**
 * How the `berth` CLI's client commands find a control plane and credentials: flags first,
 * then the standard AWS environment variables, then a local data dir's credentials.json and
 * endpoint file (what `berth up` writes).
 *
 * Client commands reach Berth only over the network (src/client), like any other client: this
 * module reads the data dir's files itself instead of importing the server's composition root.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ClientConfig } from '../client/awsClient.js';
import { readCredentials, type RootCredentials } from '../config/credentials.js';

/** A mistake in how a command was called: reported with a hint to use --help, exit status 2. */
export class UsageError extends Error {}

/**
 * The file in a data dir where `berth up` writes its endpoint URL (the same name as
 * ENDPOINT_FILE in src/berth.ts; test/cli/architecture.test.ts checks they agree).
 */
export const ENDPOINT_FILE_NAME = 'endpoint';

/** The connection flags every client command takes. */
export interface ConnectionFlags {
  server?: string;
  dataDir?: string;
  region?: string;
}

/** The data dir a command means: --data-dir, else BERTH_DATA_DIR, else ./.berth (absolute). */
export function dataDirFrom(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return resolve(flag ?? env.BERTH_DATA_DIR ?? '.berth');
}

/** The endpoint `berth up` wrote in a data dir, if it runs there. */
export function endpointIn(dataDir: string): string | undefined {
  const file = join(dataDir, ENDPOINT_FILE_NAME);
  return existsSync(file) ? readFileSync(file, 'utf8').trim() || undefined : undefined;
}

/** The root credentials `berth up` keeps in a data dir; a file that cannot be read is said plainly. */
export function credentialsIn(dataDir: string): RootCredentials | undefined {
  try {
    return readCredentials(dataDir);
  } catch (e) {
    throw new Error(`cannot read the credentials in ${dataDir}: ${(e as Error).message}`);
  }
}

/**
 * The client settings for a command: endpoint from --server, AWS_ENDPOINT_URL or the data dir's
 * endpoint file (default http://127.0.0.1:4566); credentials from AWS_ACCESS_KEY_ID and
 * AWS_SECRET_ACCESS_KEY or the data dir; region from --region, AWS_REGION, AWS_DEFAULT_REGION.
 * Accepts the parseArgs spelling (`'data-dir'`) as well as commander's (`dataDir`).
 */
export function clientConfigFrom(values: ConnectionFlags & { 'data-dir'?: string }, env: NodeJS.ProcessEnv = process.env): ClientConfig {
  const dataDir = dataDirFrom(values.dataDir ?? values['data-dir'], env);
  const stored = env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY ? undefined : credentialsIn(dataDir);
  const endpoint = values.server ?? env.AWS_ENDPOINT_URL ?? endpointIn(dataDir) ?? 'http://127.0.0.1:4566';
  if (!/^https?:\/\/[^/\s]+/.test(endpoint)) throw new UsageError(`The endpoint must be an http:// or https:// URL: got '${endpoint}'.`);
  const accessKeyId = env.AWS_ACCESS_KEY_ID ?? stored?.accessKeyId;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY ?? stored?.secretAccessKey;
  if (!accessKeyId || !secretAccessKey) {
    throw new UsageError(`No credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (see 'berth credentials --export'), or pass --data-dir of a Berth on this machine.`);
  }
  return { endpoint, region: values.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1', accessKeyId, secretAccessKey };
}
