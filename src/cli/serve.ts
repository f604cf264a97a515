/**
 * The long-running `berth` commands: `berth up` (the control plane, every AWS API on one port,
 * plus a local agent) and `berth agent` (an agent joining a cluster). These are the only CLI
 * modules that start anything; main.ts loads this module only for them, so client commands
 * start quickly and never load the server.
 */
import { join, resolve } from 'node:path';
import { startBerth } from '../berth.js';
import { VERSION } from '../version.js';
import { Agent } from '../agent/agent.js';
import { chooseDriver, type DriverName } from '../agent/select.js';
import type { LogLevel } from '../server/serverLog.js';
import { clientConfigFrom, UsageError } from './connect.js';
import { joinTokenCredentials } from '../agent/joinToken.js';
import { existsSync } from 'node:fs';
import type { Terminal } from './terminal.js';

/** The flags of `berth up` (commander's names). */
export interface UpFlags {
  port: number;
  host: string;
  dataDir?: string;
  ephemeral: boolean;
  region: string;
  store?: string;
  driver?: DriverName;
  agent: boolean;
  agentCluster: string;
  attribute: Record<string, string>;
  logLevel: LogLevel;
  logFormat: 'text' | 'json';
  /** The load balancer data plane (`--lb`). */
  lb?: 'embedded' | 'haproxy';
}

/** The flags of `berth agent`. */
export interface AgentFlags {
  server?: string;
  cluster: string;
  driver?: DriverName;
  stateDir?: string;
  dataDir?: string;
  region?: string;
  attribute: Record<string, string>;
  cpu?: number;
  memory?: number;
  /** The EC2 instance id this host is (Auto Scaling's agent hosts): sent as its identity document, with its zone attribute. */
  instanceId?: string;
  /** A join token (else BERTH_JOIN_TOKEN): the agent joins with it once, then uses the identity it got. */
  joinToken?: string;
}

/** Signals that end a long-running command gracefully. */
function onShutdown(term: Terminal, fn: (signal: string) => Promise<void>): void {
  let stopping = false;
  const handler = (signal: string) => {
    if (stopping) return;
    stopping = true;
    fn(signal).then(
      () => process.exit(0),
      (e) => {
        term.err(`berth: shutting down failed: ${(e as Error).message ?? e}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => handler('SIGTERM'));
  process.on('SIGINT', () => handler('SIGINT'));
}

/**
 * What `berth up` prints once it listens: where, where its state is, and how to use it from
 * this clone (`npx berth`, since `berth` is not on the PATH of a fresh clone) with the aws CLI
 * (v1 reads only AWS_DEFAULT_REGION, so that is set too); and that those keys are root's, with
 * the commands that create the first IAM user, and how to follow the audit log.
 */
export function banner(b: { url: string; dataDir: string; ephemeral: boolean; region: string; accessKeyId: string; secretAccessKey: string }): string {
  const lines = [`Berth ${VERSION} listening on ${b.url}`, `  state: ${b.ephemeral ? `${b.dataDir} (ephemeral: deleted at exit)` : b.dataDir}`];
  if (b.ephemeral) {
    lines.push(
      '  credentials (this run only), for the aws CLI and SDKs:',
      `    export AWS_ACCESS_KEY_ID=${b.accessKeyId} AWS_SECRET_ACCESS_KEY=${b.secretAccessKey} AWS_ENDPOINT_URL=${b.url} AWS_REGION=${b.region} AWS_DEFAULT_REGION=${b.region}`,
    );
  } else {
    lines.push('  credentials, for the aws CLI and SDKs (run in this clone):', `    eval "$(npx berth credentials --export --data-dir ${b.dataDir})"`);
  }
  lines.push(`  try: aws --endpoint-url ${b.url} sts get-caller-identity`, `       npx berth ps`);
  // These are the root keys: day-to-day work (people, CI) should use IAM users with their own.
  lines.push(
    '  the keys above are root\'s (they may do everything): give people and CI IAM users of their own, e.g.',
    `    aws --endpoint-url ${b.url} iam create-user --user-name alice && aws --endpoint-url ${b.url} iam attach-user-policy --user-name alice --policy-arn arn:aws:iam::aws:policy/AdministratorAccess && aws --endpoint-url ${b.url} iam create-access-key --user-name alice`,
    '  every call is audited: npx berth audit -f',
  );
  return lines.join('\n') + '\n';
}

/** `berth up`: starts Berth and, unless --no-agent, a local agent; runs until SIGTERM/SIGINT. */
export async function up(flags: UpFlags, term: Terminal): Promise<void> {
  const berth = await startBerth({
    port: flags.port,
    host: flags.host,
    dataDir: flags.dataDir ?? process.env.BERTH_DATA_DIR,
    ephemeral: flags.ephemeral,
    region: flags.region,
    storeUrl: flags.store ?? process.env.BERTH_STORE_URL,
    ...(flags.lb ? { loadBalancer: { plane: flags.lb } } : {}),
    log: { level: flags.logLevel, format: flags.logFormat, write: (line) => term.out(line) },
  });
  term.out(banner({ url: berth.url, dataDir: berth.dataDir, ephemeral: flags.ephemeral, region: flags.region, ...berth.credentials }));
  let agent: Agent | undefined;
  // Signals are handled from the moment the endpoint is up, even while the agent starts.
  onShutdown(term, async (signal) => {
    term.out(`Berth: ${signal} received, shutting down\n`);
    await agent?.close({ stopTasks: flags.ephemeral });
    await berth.close();
  });
  if (flags.agent) {
    const stateDir = join(berth.dataDir, 'agent');
    const driver = await chooseDriver(flags.driver, stateDir);
    agent = new Agent({
      client: { endpoint: berth.url, region: flags.region, accessKeyId: berth.credentials.accessKeyId, secretAccessKey: berth.credentials.secretAccessKey },
      cluster: flags.agentCluster,
      driver,
      stateDir,
      attributes: flags.attribute,
    });
    await agent.start();
    term.out(`  agent: ${driver.name} driver, cluster '${flags.agentCluster}' (${agent.instanceArn})\n`);
  }
}

/** `berth agent`: joins a cluster and runs its tasks on this host; runs until SIGTERM/SIGINT. */
export async function agentCommand(flags: AgentFlags, term: Terminal): Promise<void> {
  const stateDir = resolve(flags.stateDir ?? join(flags.dataDir ?? '.berth', `agent-${flags.cluster}`));
  const joinToken = flags.joinToken ?? (process.env.BERTH_JOIN_TOKEN || undefined);
  if (joinToken) {
    try {
      joinTokenCredentials(joinToken);
    } catch (e) {
      throw new UsageError(`--join-token: ${(e as Error).message}`);
    }
  }
  // A join token (or the identity a previous join left in the state dir) stands for credentials.
  const joined = joinToken !== undefined || existsSync(join(stateDir, 'identity.json'));
  const client = clientConfigFrom(flags, joined ? { ...process.env, AWS_ACCESS_KEY_ID: 'joining', AWS_SECRET_ACCESS_KEY: 'joining' } : process.env);
  const driver = await chooseDriver(flags.driver, stateDir);
  const agent = new Agent({ client, cluster: flags.cluster, driver, stateDir, joinToken, attributes: flags.attribute, cpu: flags.cpu, memoryMiB: flags.memory,
    identity: flags.instanceId ? { instanceId: flags.instanceId, availabilityZone: flags.attribute['ecs.availability-zone'] } : undefined,
  });
  await agent.start();
  term.out(`Berth agent ${VERSION}: ${driver.name} driver, cluster '${flags.cluster}', instance ${agent.instanceArn}, server ${[client.endpoint, ...(client.failoverEndpoints ?? [])].join(',')}\n`);
  onShutdown(term, async (signal) => {
    term.out(`Berth agent: ${signal} received; tasks keep running\n`);
    await agent.close();
  });
}
