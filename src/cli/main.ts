/**
 * `berth`: one executable, subcommands for each role.
 *   berth up            run the control plane (all AWS APIs on one port)
 *   berth credentials   print the root credentials of a data dir
 */
import { parseArgs } from 'node:util';
import { readFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { startBerth, ENDPOINT_FILE } from '../berth.js';
import { readCredentials } from '../config/credentials.js';
import { VERSION } from '../version.js';

const USAGE = `Usage: berth <command> [options]

Commands:
  up             Start Berth: every AWS API on one port, state in embedded SQLite.
                   --port N        port to listen on (default 4566; 0 = any free port)
                   --host ADDR     address to listen on (default 127.0.0.1)
                   --data-dir DIR  where state lives (default ./.berth)
                   --ephemeral     keep state in a temp dir, deleted at exit
                   --region NAME   default region (default us-east-1)
                   --store URL     postgres://... to share state between control-plane
                                   replicas (default: embedded SQLite in the data dir)
  credentials    Print the root credentials of a data dir.
                   --data-dir DIR  (default ./.berth)
                   --export        as AWS_ACCESS_KEY_ID=... lines for eval/env files
  version        Print the version.
`;

class UsageError extends Error {}

async function up(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string', default: '4566' },
      host: { type: 'string', default: '127.0.0.1' },
      'data-dir': { type: 'string' },
      ephemeral: { type: 'boolean', default: false },
      region: { type: 'string', default: 'us-east-1' },
      store: { type: 'string' },
    },
    strict: true,
  });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be 0-65535: got ${values.port}`);
  const berth = await startBerth({
    port,
    host: values.host,
    dataDir: values['data-dir'] ?? process.env.BERTH_DATA_DIR,
    ephemeral: values.ephemeral,
    region: values.region,
    storeUrl: values.store ?? process.env.BERTH_STORE_URL,
  });
  const credsHint = values.ephemeral
    ? `  AWS_ACCESS_KEY_ID=${berth.credentials.accessKeyId} AWS_SECRET_ACCESS_KEY=${berth.credentials.secretAccessKey}`
    : `  eval "$(berth credentials --export --data-dir ${berth.dataDir})"`;
  process.stdout.write(
    `Berth ${VERSION} listening on ${berth.url}\n` +
      `  state: ${values.ephemeral ? `${berth.dataDir} (ephemeral: deleted at exit)` : berth.dataDir}\n` +
      `  credentials:\n${credsHint}\n` +
      `  try: aws --endpoint-url ${berth.url} --region ${values.region} sts get-caller-identity\n`,
  );
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`Berth: ${signal} received, shutting down\n`);
    berth.close().then(
      () => process.exit(0),
      (e) => {
        console.error(e);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

function credentials(argv: string[]): void {
  const { values } = parseArgs({
    args: argv,
    options: { 'data-dir': { type: 'string' }, export: { type: 'boolean', default: false }, region: { type: 'string', default: 'us-east-1' } },
    strict: true,
  });
  const dataDir = resolve(values['data-dir'] ?? process.env.BERTH_DATA_DIR ?? '.berth');
  const creds = readCredentials(dataDir);
  if (!creds) throw new UsageError(`No credentials in ${dataDir}: start Berth there first (berth up --data-dir ${dataDir}).`);
  const endpointFile = join(dataDir, ENDPOINT_FILE);
  const endpoint = existsSync(endpointFile) ? readFileSync(endpointFile, 'utf8').trim() : 'http://127.0.0.1:4566';
  if (values.export) {
    process.stdout.write(
      `AWS_ACCESS_KEY_ID=${creds.accessKeyId}\nAWS_SECRET_ACCESS_KEY=${creds.secretAccessKey}\nAWS_ENDPOINT_URL=${endpoint}\nAWS_REGION=${values.region}\n`,
    );
  } else {
    process.stdout.write(`Access key id:     ${creds.accessKeyId}\nSecret access key: ${creds.secretAccessKey}\nAccount:           ${creds.accountId}\nEndpoint:          ${endpoint}\n`);
  }
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case 'up':
        await up(rest);
        return -1; // keep running
      case 'credentials':
        credentials(rest);
        return 0;
      case 'version':
      case '--version':
        process.stdout.write(`${VERSION}\n`);
        return 0;
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(USAGE);
        return cmd === undefined ? 2 : 0;
      default:
        throw new UsageError(`Unknown command '${cmd}'.`);
    }
  } catch (e) {
    if (e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`berth: ${(e as Error).message}\n\n${USAGE}`);
      return 2;
    }
    process.stderr.write(`berth: ${(e as Error).stack ?? e}\n`);
    return 1;
  }
}
