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
import { Agent } from '../agent/agent.js';
import { chooseDriver, type DriverName } from '../agent/select.js';
import { logsCommand } from './logs.js';
import { clientConfigFrom, UsageError } from './connect.js';
import { StateDirLocked } from '../agent/stateLock.js';

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
                   --driver NAME   docker, process or auto (default: docker if an engine answers)
                   --no-agent      do not run a local agent
                   --agent-cluster NAME   cluster the local agent joins (default: default)
                   --attribute K=V attribute of the local container instance (repeatable)
  agent          Run an agent that joins a cluster and runs its tasks on this host.
                   --server URL    control plane endpoint (or AWS_ENDPOINT_URL)
                   --cluster NAME  cluster to join (default: default)
                   --driver NAME   docker, process or auto
                   --state-dir DIR where the agent keeps its tasks (survives restarts)
                   --attribute K=V e.g. ecs.availability-zone=us-east-1b (repeatable)
                   --cpu N --memory MIB   resources to offer (default: the host's)
  logs           Print a task's or service's container output; -f follows it.
                   berth logs [-f] [--since 10m] [--cluster NAME] <task-id | service-name>
  credentials    Print the root credentials of a data dir.
                   --data-dir DIR  (default ./.berth)
                   --export        as AWS_ACCESS_KEY_ID=... lines for eval/env files
  version        Print the version.
`;

function parseAttributes(list: string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const a of list ?? []) {
    const i = a.indexOf('=');
    if (i <= 0) throw new UsageError(`--attribute takes key=value: got '${a}'`);
    out[a.slice(0, i)] = a.slice(i + 1);
  }
  return out;
}

function parseDriver(v: string | undefined): DriverName | undefined {
  if (v === undefined || v === 'auto') return undefined;
  if (v !== 'docker' && v !== 'process') throw new UsageError(`--driver must be docker, process or auto: got '${v}'`);
  return v;
}

function positiveInt(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`${flag} must be a positive whole number: got '${v}'`);
  return n;
}

/** Signals that end a long-running command gracefully. */
function onShutdown(fn: (signal: string) => Promise<void>): void {
  let stopping = false;
  const handler = (signal: string) => {
    if (stopping) return;
    stopping = true;
    fn(signal).then(
      () => process.exit(0),
      (e) => {
        console.error(e);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => handler('SIGTERM'));
  process.on('SIGINT', () => handler('SIGINT'));
}

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
      driver: { type: 'string' },
      'no-agent': { type: 'boolean', default: false },
      'agent-cluster': { type: 'string', default: 'default' },
      attribute: { type: 'string', multiple: true },
    },
    strict: true,
  });
  const driverName = parseDriver(values.driver);
  const attributes = parseAttributes(values.attribute);
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be 0-65535: got ${values.port}`);
  const berth = await startBerth({
    port,
    host: values.host,
    dataDir: values['data-dir'] ?? process.env.BERTH_DATA_DIR,
    ephemeral: values.ephemeral,
    region: values.region,
    storeUrl: values.store ?? process.env.BERTH_STORE_URL,
    log: { level: process.env.BERTH_LOG_LEVEL === undefined ? 'info' : undefined },
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
  let agent: Agent | undefined;
  // Signals are handled from the moment the endpoint is up, even while the agent starts.
  onShutdown(async (signal) => {
    process.stdout.write(`Berth: ${signal} received, shutting down\n`);
    await agent?.close({ stopTasks: values.ephemeral });
    await berth.close();
  });
  if (!values['no-agent']) {
    const stateDir = join(berth.dataDir, 'agent');
    const driver = await chooseDriver(driverName, stateDir);
    agent = new Agent({
      client: { endpoint: berth.url, region: values.region, accessKeyId: berth.credentials.accessKeyId, secretAccessKey: berth.credentials.secretAccessKey },
      cluster: values['agent-cluster'],
      driver,
      stateDir,
      attributes,
    });
    await agent.start();
    process.stdout.write(`  agent: ${driver.name} driver, cluster '${values['agent-cluster']}' (${agent.instanceArn})\n`);
  }
}

async function agentCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      server: { type: 'string' },
      cluster: { type: 'string', default: 'default' },
      driver: { type: 'string' },
      'state-dir': { type: 'string' },
      'data-dir': { type: 'string' },
      region: { type: 'string' },
      attribute: { type: 'string', multiple: true },
      cpu: { type: 'string' },
      memory: { type: 'string' },
    },
    strict: true,
  });
  const client = clientConfigFrom(values);
  const stateDir = resolve(values['state-dir'] ?? join(values['data-dir'] ?? '.berth', `agent-${values.cluster}`));
  const driver = await chooseDriver(parseDriver(values.driver), stateDir);
  const agent = new Agent({
    client,
    cluster: values.cluster!,
    driver,
    stateDir,
    attributes: parseAttributes(values.attribute),
    cpu: positiveInt(values.cpu, '--cpu'),
    memoryMiB: positiveInt(values.memory, '--memory'),
  });
  await agent.start();
  process.stdout.write(`Berth agent ${VERSION}: ${driver.name} driver, cluster '${values.cluster}', instance ${agent.instanceArn}, server ${client.endpoint}\n`);
  onShutdown(async (signal) => {
    process.stdout.write(`Berth agent: ${signal} received; tasks keep running\n`);
    await agent.close();
  });
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
      `export AWS_ACCESS_KEY_ID=${creds.accessKeyId}\nexport AWS_SECRET_ACCESS_KEY=${creds.secretAccessKey}\nexport AWS_ENDPOINT_URL=${endpoint}\nexport AWS_REGION=${values.region}\nexport AWS_DEFAULT_REGION=${values.region}\n`,
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
      case 'agent':
        await agentCommand(rest);
        return -1;
      case 'logs':
        await logsCommand(rest);
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
    if (e instanceof StateDirLocked) {
      process.stderr.write(`berth: ${e.message}\n`);
      return 1;
    }
    process.stderr.write(`berth: ${(e as Error).stack ?? e}\n`);
    return 1;
  }
}
