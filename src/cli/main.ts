/**
 * `berth`: one executable, a subcommand for each thing a person does (commander parses the
 * arguments and writes every --help).
 *
 *   berth up | agent                       run Berth / an agent (serve.ts)
 *   berth ps | run | deploy | rollback     client commands: they reach Berth only over the
 *   berth events | stop | logs | status    network, through src/client, like any AWS client
 *   berth credentials | version
 *   berth join-token create | list | revoke   the tokens agent hosts join a cluster with
 *
 * Exit status: 0 done; 1 an error (an API error prints as `berth: <Code>: <message>`, never a
 * stack trace; BERTH_DEBUG=1 adds it); 2 a usage error (unknown flag, bad value, missing
 * argument), printed as `berth: <what>` and `Run 'berth <command> --help' for usage.`;
 * `berth run` passes on its task's exit status (125 when the task did not start).
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { AwsApiError } from '../client/awsClient.js';
import { VERSION } from '../version.js';
import { BerthApi } from './api.js';
import { clientConfigFrom, credentialsIn, dataDirFrom, endpointIn, endpointsFrom, UsageError } from './connect.js';
import { deployCommand, parseEnvPairs, rollbackCommand } from './deploy.js';
import { consoleCommand } from './console.js';
import { eventsCommand } from './events.js';
import { auditCommand } from './audit.js';
import { createJoinTokenCommand, listJoinTokensCommand, revokeJoinTokenCommand } from './joinToken.js';
import { logsCommand, parseDuration } from './logs.js';
import { psCommand } from './ps.js';
import { runCommand } from './run.js';
import { statusCommand } from './status.js';
import { stopCommand } from './stop.js';
import { guardClosedOutput, processTerminal, type Terminal } from './terminal.js';

/** What the parsed command left to do: keep the process running (servers) or exit with a status. */
interface Outcome {
  keepRunning: boolean;
  exitCode: number;
  /** The command being run (for the --help hint of a usage error). */
  command?: string;
  /** The endpoint a client command talks to (for the "cannot reach" message). */
  endpoint?: string;
}

const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'off'];
const NETWORK_ERRORS = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EPIPE']);

// Value parsers: each throws InvalidArgumentError, which commander reports as a usage error.

function portNumber(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n > 65535) throw new InvalidArgumentError('--port must be a whole number from 0 to 65535 (0 = any free port).');
  return n;
}

function wholeNumber(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^\d+$/.test(v) || n < min || n > max) throw new InvalidArgumentError(max === Number.MAX_SAFE_INTEGER ? `It must be a whole number of at least ${min}.` : `It must be a whole number from ${min} to ${max}.`);
    return n;
  };
}

function keyValue(v: string, previous: Record<string, string> = {}): Record<string, string> {
  const i = v.indexOf('=');
  if (i <= 0) throw new InvalidArgumentError(`It takes key=value.`);
  return { ...previous, [v.slice(0, i)]: v.slice(i + 1) };
}

function envPair(v: string, previous: Record<string, string> = {}): Record<string, string> {
  try {
    return { ...previous, ...parseEnvPairs([v]) };
  } catch (e) {
    throw new InvalidArgumentError(`It takes NAME=value (${(e as Error).message.replace(/^--env:? ?/, '')}).`);
  }
}

/** The --blue-green flags, checked: the production listener is needed, the others only go with --blue-green. */
function blueGreenFlags(opts: { blueGreen?: boolean; listener?: string; testListener?: string; bake: number; testWait: number }): { listener: string; testListener?: string; bakeMs: number; testWaitMs: number } | undefined {
  if (!opts.blueGreen) {
    if (opts.listener !== undefined || opts.testListener !== undefined) throw new UsageError('--listener and --test-listener go with --blue-green.');
    return undefined;
  }
  if (!opts.listener) throw new UsageError('--blue-green needs --listener: the production listener (or rule) ARN forwarding to the blue and green target groups.');
  return { listener: opts.listener, testListener: opts.testListener, bakeMs: opts.bake, testWaitMs: opts.testWait };
}

function durationMs(v: string): number {
  try {
    return parseDuration(v, 'it');
  } catch {
    throw new InvalidArgumentError('It takes a duration like 30s, 10m or 2h.');
  }
}

function driverName(v: string): 'docker' | 'process' | undefined {
  if (v === 'auto') return undefined;
  if (v === 'docker' || v === 'process') return v;
  throw new InvalidArgumentError('--driver must be docker, process or auto.');
}

/** Adds the flags every client command takes: --cluster, --output, and how to reach Berth. */
function clientCommand(parent: Command, spec: string, description: string, opts: { output?: boolean } = {}): Command {
  const cmd = parent.command(spec).description(description).option('--cluster <name>', 'the cluster', 'default');
  if (opts.output !== false) cmd.addOption(new Option('--output <format>', 'text for people, json for programs (one JSON document)').choices(['text', 'json']).default('text'));
  cmd
    .addOption(new Option('--server <url>', 'Berth endpoint, or several replicas\' separated by commas (default: AWS_ENDPOINT_URL, else the data dir\'s, else http://127.0.0.1:4566)').helpGroup('Connection:'))
    .addOption(new Option('--data-dir <dir>', 'a local Berth\'s data dir, for its endpoint and credentials (default: BERTH_DATA_DIR or ./.berth)').helpGroup('Connection:'))
    .addOption(new Option('--region <name>', 'region (default: AWS_REGION, AWS_DEFAULT_REGION or us-east-1)').helpGroup('Connection:'));
  cmd.addHelpText('after', '\nCredentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, else those of the data dir.');
  return cmd;
}

/** Every command reports usage errors the same way: `berth: <what>` and a --help hint; exit 2. */
function consistentErrors(cmd: Command, path: string): void {
  cmd
    .exitOverride()
    .showSuggestionAfterError(true)
    .showHelpAfterError(`Run '${path} --help' for usage.`)
    .configureOutput({
      outputError: (text, write) => {
        const message = text.replace(/^error: /, '').trimEnd();
        write(`berth: ${message.charAt(0).toUpperCase()}${message.slice(1)}\n`);
      },
    });
  for (const sub of cmd.commands) consistentErrors(sub, `${path} ${sub.name()}`);
}

const repeatable = (v: string, prev: string[] = []) => [...prev, v];

/** `berth compose ...`: a compose project as ECS services (src/cli/compose/, docs/compose.md). */
function addComposeCommands(program: Command, api: (opts: { server?: string; dataDir?: string; region?: string }) => BerthApi, outcome: Outcome, term: Terminal): void {
  const compose = program
    .command('compose')
    // Its own flags come before the subcommand (`berth compose -f a.yaml logs -f`), as docker compose has them.
    .enablePositionalOptions()
    .description('Run a compose project (compose.yaml) as ECS services, task definitions, load balancer listeners and log groups.')
    .option('-f, --file <path>', 'a compose file (repeatable; later files override earlier ones; default compose.yaml and compose.override.yaml)', repeatable)
    .option('-p, --project-name <name>', 'the project name (default: COMPOSE_PROJECT_NAME, the top-level name, else the directory of the first file)')
    .option('--env-file <path>', 'read variables from this file instead of .env (repeatable)', repeatable)
    .option('--profile <name>', 'enable services of this profile (repeatable; default COMPOSE_PROFILES)', repeatable)
    .option('--ecs-params <file>', 'ecs-cli\'s ecs-params.yml: task roles, network mode, task size, per-service essential, cpu_shares, memory, healthcheck, secrets')
    .addHelpText('after', '\nExamples:\n  npx berth compose config\n  npx berth compose -f compose.yaml -f prod.yaml up\n  npx berth compose ps\n  npx berth compose logs -f api\n  npx berth compose down');
  const common = (cmd: Command) => {
    const o = cmd.optsWithGlobals();
    return { file: o.file, ecsParams: o.ecsParams, projectName: o.projectName, envFile: o.envFile, profile: o.profile, cluster: o.cluster ?? 'default' };
  };
  compose
    .command('config')
    .description('Print the project as Berth reads it (normalized, interpolated, merged), like docker compose config.')
    .option('--services', 'print the service names only, in start order')
    .option('-q, --quiet', 'only validate')
    .action(async (opts, cmd: Command) => {
      const { configCommand } = await import('./compose/apply.js');
      outcome.exitCode = configCommand({ ...common(cmd), services: opts.services, quiet: opts.quiet }, term);
    });
  clientCommand(compose, 'up', 'Create or update every service (dependencies first, honouring depends_on conditions), then wait until each is steady.', { output: false })
    .option('--host-address <addr>', 'where services reach each other (<NAME>_HOST): 127.0.0.1 for the process driver; the host\'s address as containers see it for docker', '127.0.0.1')
    .addOption(new Option('--wait-timeout <duration>', 'how long to wait for dependencies and rollouts').argParser(durationMs).default(5 * 60_000, '5m'))
    .option('-d, --detach', 'return once everything is created or updated, without waiting for the rollouts')
    .addOption(new Option('--driver <name>', 'the agents\' driver: docker (a project network, names resolve) or process (names as <NAME>_HOST/_PORT variables); default: the cluster\'s').argParser(driverName))
    .option('--build', 'build the images of services with build: before starting them (else only those not yet in Berth\'s registry)')
    .option('--no-build', 'build nothing: use the images as named')
    .action(async (opts, cmd: Command) => {
      const { upCommand } = await import('./compose/apply.js');
      outcome.exitCode = await upCommand(api(opts), { ...common(cmd), hostAddress: opts.hostAddress, waitTimeoutMs: opts.waitTimeout, detach: opts.detach, driver: opts.driver, build: opts.build === true, noBuild: opts.build === false }, term);
    });
  clientCommand(compose, 'build [service...]', 'Build the images of services with build: (context, dockerfile, args, target) with the local docker engine and push them to Berth\'s registry.', { output: false })
    .action(async (services: string[], opts, cmd: Command) => {
      const { buildCommand } = await import('./compose/apply.js');
      outcome.exitCode = await buildCommand(api(opts), services, common(cmd), term);
    });
  clientCommand(compose, 'down', 'Remove everything up created: services and tasks, task definitions, load balancer, listeners and target groups, log groups, secrets.', { output: false })
    .option('-v, --volumes', 'also remove the project\'s named volumes (those on this host\'s docker engine)')
    .addOption(new Option('--rmi <type>', 'also remove the images up built: local (services without an image: name) or all').choices(['local', 'all']))
    .addOption(new Option('--timeout <duration>', 'how long to wait for the tasks to stop').argParser(durationMs).default(2 * 60_000, '2m'))
    .action(async (opts, cmd: Command) => {
      const { downCommand } = await import('./compose/apply.js');
      outcome.exitCode = await downCommand(api(opts), { ...common(cmd), volumes: opts.volumes, rmi: opts.rmi, timeoutMs: opts.timeout }, term);
    });
  clientCommand(compose, 'ps', 'List the project\'s tasks: service, status, health, ports.')
    .option('-a, --all', 'stopped tasks too')
    .action(async (opts, cmd: Command) => {
      const { psCommand } = await import('./compose/apply.js');
      outcome.exitCode = await psCommand(api(opts), { ...common(cmd), all: opts.all, output: opts.output }, term);
    });
  clientCommand(compose, 'logs [service...]', 'Print the output of the project\'s services, prefixed by service; -f follows it.', { output: false })
    .option('-f, --follow', 'keep printing until the services are removed')
    .option('-t, --timestamps', 'prefix each line with its time')
    .action(async (services: string[], opts, cmd: Command) => {
      const { logsCommand: composeLogs } = await import('./compose/apply.js');
      outcome.exitCode = await composeLogs(api(opts), services, { ...common(cmd), follow: opts.follow, timestamps: opts.timestamps }, term);
    });
}

/** The `berth` program: its commands, their flags and help, calling into the command modules. */
export function buildProgram(term: Terminal, outcome: Outcome): Command {
  const api = (opts: { server?: string; dataDir?: string; region?: string }) => {
    const cfg = clientConfigFrom(opts);
    outcome.endpoint = cfg.endpoint;
    return new BerthApi(cfg);
  };
  const program = new Command('berth')
    .usage('<command> [options]')
    .enablePositionalOptions()
    .description('Berth: the ECS deployment model on machines you own, behind the AWS APIs (ECS, ELBv2, CloudWatch Logs, SSM, STS).')
    .version(VERSION, '-v, --version', 'print the version')
    .configureOutput({ writeOut: (s) => term.out(s), writeErr: (s) => term.err(s) })
    .addHelpText(
      'after',
      `
Examples:
  npx berth up --driver process              run Berth and a local agent (state in ./.berth)
  eval "$(npx berth credentials --export)"
  npx berth ps                               services and tasks of cluster "default"
  npx berth run hello                        a one-off task of task definition "hello", its output, its exit status
  npx berth deploy web --image nginx:1.27    a new revision of web's task definition, rolled out and followed
  npx berth logs -f web                      follow the output of service web's tasks

Run 'berth <command> --help' for a command's flags.`,
    );
  program.hook('preAction', (_root, action) => {
    outcome.command = action.name();
  });

  program.commandsGroup('Run Berth:');
  program
    .command('up')
    .description('Start Berth: every AWS API on one port, state in embedded SQLite, and a local agent.')
    .addOption(new Option('--port <n>', 'port to listen on (0 = any free port)').argParser(portNumber).default(4566))
    .option('--host <addr>', 'address to listen on', '127.0.0.1')
    .option('--data-dir <dir>', 'where state lives (default: BERTH_DATA_DIR or ./.berth)')
    .option('--ephemeral', 'keep state in a temp dir, deleted at exit')
    .option('--region <name>', 'default region', 'us-east-1')
    .option('--store <url>', 'postgres://... to share state between control-plane replicas (default: SQLite in the data dir; env BERTH_STORE_URL)')
    .addOption(new Option('--driver <name>', 'how the local agent runs containers: docker, process or auto (docker when an engine answers)').argParser(driverName))
    .option('--no-agent', 'do not run a local agent')
    .addOption(new Option('--lb <plane>', 'the load balancer data plane: embedded (Berth\'s own) or haproxy (a haproxy Berth starts and drives)').choices(['embedded', 'haproxy']).env('BERTH_LB_PLANE'))
    .option('--agent-cluster <name>', 'the cluster the local agent joins', 'default')
    .option('--attribute <key=value>', 'an attribute of the local container instance (repeatable)', keyValue)
    .addOption(new Option('--log-level <level>', 'the request log: one line per request at info and debug; warn: refused requests; error: failures').choices(LOG_LEVELS).default('info').env('BERTH_LOG_LEVEL'))
    .addOption(new Option('--log-format <format>', 'the request log as text or JSON lines').choices(['text', 'json']).default('text').env('BERTH_LOG_FORMAT'))
    .addHelpText('after', '\nExamples:\n  npx berth up --driver process\n  npx berth up --ephemeral --port 0 --log-level warn --log-format json')
    .action(async (opts) => {
      const { up } = await import('./serve.js');
      guardClosedOutput({ exit: false });
      await up({ ...opts, ephemeral: opts.ephemeral ?? false, attribute: opts.attribute ?? {} }, term);
      outcome.keepRunning = true;
    });

  program
    .command('agent')
    .description('Run an agent that joins a cluster and runs its tasks on this host.')
    .option('--server <urls>', 'control plane endpoint, or several replicas\' separated by commas (moves to the next when one does not answer; default: AWS_ENDPOINT_URL)')
    .option('--cluster <name>', 'cluster to join', 'default')
    .addOption(new Option('--driver <name>', 'docker, process or auto').argParser(driverName))
    .option('--state-dir <dir>', 'where the agent keeps its tasks (survives restarts; default <data-dir>/agent-<cluster>)')
    .option('--data-dir <dir>', 'a local Berth\'s data dir, for credentials (default ./.berth)')
    .option('--region <name>', 'region (default: AWS_REGION or us-east-1)')
    .option('--attribute <key=value>', 'e.g. ecs.availability-zone=us-east-1b (repeatable)', keyValue)
    .addOption(new Option('--cpu <units>', 'CPU units to offer (default: the host\'s)').argParser(wholeNumber(1)))
    .addOption(new Option('--memory <mib>', 'MiB of memory to offer (default: the host\'s)').argParser(wholeNumber(1)))
    .option('--instance-id <id>', 'the EC2 instance this host is (an Auto Scaling group\'s agent host), sent as its identity document')
    .option('--join-token <token>', 'join the cluster with this token (berth join-token create; default BERTH_JOIN_TOKEN): once joined, the agent uses its own instance\'s key, kept in the state dir')
    .addHelpText('after', '\nCredentials: a join token (--join-token or BERTH_JOIN_TOKEN; or the identity a previous join left in the state dir), else AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, else those of the data dir.\n\nExample:\n  berth agent --server http://10.0.0.1:4566,http://10.0.0.2:4566 --cluster web')
    .action(async (opts) => {
      const { agentCommand } = await import('./serve.js');
      guardClosedOutput({ exit: false });
      await agentCommand({ ...opts, attribute: opts.attribute ?? {} }, term);
      outcome.keepRunning = true;
    });

  program
    .command('credentials')
    .description('Print the root credentials of a data dir.')
    .option('--data-dir <dir>', 'the data dir (default: BERTH_DATA_DIR or ./.berth)')
    .option('--export', 'as `export NAME=value` lines (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL, AWS_REGION, AWS_DEFAULT_REGION) for eval')
    .option('--region <name>', 'the region to export', 'us-east-1')
    .addHelpText('after', '\nIn a shell, exported for the aws CLI and SDKs:\n  eval "$(npx berth credentials --export)"')
    .action((opts: { dataDir?: string; export: boolean; region: string }) => {
      const dataDir = dataDirFrom(opts.dataDir);
      const creds = credentialsIn(dataDir);
      if (!creds) throw new UsageError(`No credentials in ${dataDir}: start Berth there first (berth up --data-dir ${dataDir}).`);
      const endpoint = endpointIn(dataDir) ?? 'http://127.0.0.1:4566';
      if (opts.export) {
        term.out(
          `export AWS_ACCESS_KEY_ID=${creds.accessKeyId}\nexport AWS_SECRET_ACCESS_KEY=${creds.secretAccessKey}\nexport AWS_ENDPOINT_URL=${endpoint}\nexport AWS_REGION=${opts.region}\nexport AWS_DEFAULT_REGION=${opts.region}\n`,
        );
      } else {
        term.out(`Access key id:     ${creds.accessKeyId}\nSecret access key: ${creds.secretAccessKey}\nAccount:           ${creds.accountId}\nEndpoint:          ${endpoint}\n`);
      }
    });

  program
    .command('version')
    .description('Print the version.')
    .action(() => term.out(`${VERSION}\n`));

  program.commandsGroup('Use it:').helpCommand('help [command]', 'show the help of a command');
  clientCommand(program, 'ps', 'List the services of a cluster (counts, deployments, health) and its tasks (status, health, ports).')
    .option('-a, --all', 'include stopped tasks (kept for an hour)')
    .addHelpText('after', '\nExamples:\n  npx berth ps\n  npx berth ps --cluster prod --output json')
    .action(async (opts) => {
      outcome.exitCode = await psCommand(api(opts), { cluster: opts.cluster, all: opts.all, output: opts.output }, term);
    });

  clientCommand(program, 'run <task-definition>', 'Run a one-off task, show its output until it stops, and exit with its essential container\'s exit status.')
    .option('-e, --env <name=value>', 'environment variable for the task\'s containers (repeatable)', envPair)
    .option('--container <name>', 'the container --env applies to (default: every container)')
    .addOption(new Option('--count <n>', 'how many tasks (1-10)').argParser(wholeNumber(1, 10)).default(1))
    .option('-d, --detach', 'start the task and print its id, without waiting')
    .addHelpText(
      'after',
      '\nThe task definition is family, family:revision or an ARN. Exit status: the first non-zero exit code of an\nessential container, else 0; 125 when a task did not start (its stop reason is printed). Ctrl-C stops the task.\n\nExamples:\n  npx berth run migrate --env DRY_RUN=1\n  npx berth run report:7 --detach',
    )
    .action(async (taskDefinition: string, opts) => {
      outcome.exitCode = await runCommand(api(opts), taskDefinition, { cluster: opts.cluster, env: opts.env ?? {}, container: opts.container, count: opts.count, detach: opts.detach, output: opts.output }, term);
    });

  const followFlags = (cmd: Command) =>
    cmd
      .option('-d, --detach', 'start the deployment and return, without following it')
      .addOption(new Option('--timeout <duration>', 'stop following after this long (the deployment goes on)').argParser(durationMs).default(15 * 60_000, '15m'));

  followFlags(
    clientCommand(program, 'deploy <service>', 'Deploy a new task definition to a service and follow the rollout until it completes or fails.')
      .option('--task-definition <family:revision>', 'the task definition to run (family, family:revision or ARN)')
      .option('--image <image>', 'register a new revision with this image (of --container)')
      .option('--container <name>', 'the container --image and --env change (needed when there are several)')
      .option('-e, --env <name=value>', 'register a new revision with this environment variable set (repeatable)', envPair)
      .option('--blue-green', 'blue/green with task sets (EXTERNAL services): green behind the other target group of --listener, test traffic first, then production by listener weights, bake, then blue goes')
      .option('--listener <arn>', '--blue-green: the production listener (or listener rule) forwarding to blue\'s and green\'s target groups')
      .option('--test-listener <arn>', '--blue-green: the test-traffic listener (or rule) that gets green first')
      .addOption(new Option('--test-wait <duration>', '--blue-green: how long green serves the test listener alone (staying healthy) before production moves').argParser(durationMs).default(60_000, '1m'))
      .addOption(new Option('--bake <duration>', '--blue-green: how long green must stay healthy with production traffic before blue goes').argParser(durationMs).default(5 * 60_000, '5m')),
  )
    .addHelpText(
      'after',
      `
Without --task-definition, --image or --env the service starts fresh tasks of what it runs.
Progress: the new tasks (running, healthy in the target groups), the old ones (draining, stopped),
the deployment circuit breaker (failed, rolled back), and the service's events.
Exit status 0 when the deployment completed; 1 when it failed, was rolled back, was replaced or timed out.

Examples:
  npx berth deploy web --image registry.example.com/web:2.4.1
  npx berth deploy web --env LOG_LEVEL=debug
  npx berth deploy web --task-definition web:12
  npx berth deploy web --image web:2.5 --blue-green --listener <production listener ARN> --test-listener <test listener ARN> --bake 10m`,
    )
    .action(async (service: string, opts) => {
      outcome.exitCode = await deployCommand(
        api(opts),
        service,
        {
          cluster: opts.cluster,
          taskDefinition: opts.taskDefinition,
          image: opts.image,
          container: opts.container,
          env: opts.env ?? {},
          detach: opts.detach,
          timeoutMs: opts.timeout,
          output: opts.output,
          blueGreen: blueGreenFlags(opts),
        },
        term,
      );
    });

  followFlags(clientCommand(program, 'rollback <service>', 'Deploy the task definition a service ran before, and follow the rollout like deploy.'))
    .addHelpText('after', '\nThe previous task definition: that of the service\'s newest other deployment that completed, else the\nnewest ACTIVE revision of its family older than the current one.')
    .action(async (service: string, opts) => {
      outcome.exitCode = await rollbackCommand(api(opts), service, { cluster: opts.cluster, env: {}, detach: opts.detach, timeoutMs: opts.timeout, output: opts.output }, term);
    });

  clientCommand(program, 'events <service>', 'Print a service\'s events, newest last; -f follows new ones.')
    .option('-f, --follow', 'keep printing new events (with --output json: one JSON object a line)')
    .action(async (service: string, opts) => {
      outcome.exitCode = await eventsCommand(api(opts), service, { cluster: opts.cluster, follow: opts.follow, output: opts.output }, term);
    });

  clientCommand(program, 'audit', 'Print the audit log (every API call: who, from where, what, on which resources, the outcome), newest last; -f follows it.')
    .option('-f, --follow', 'keep printing new calls as they come (with --output json: one JSON object a line)')
    .option('--user <name>', 'only this user\'s calls (root for the root user, a role session\'s name)')
    .option('--event <name>', 'only this operation (e.g. RunTask)')
    .option('--resource <name-or-arn>', 'only calls on this resource')
    .option('--access-key <id>', 'only calls signed with this access key')
    .option('--source <service>', 'only this service\'s calls (ecs, iam, or ecs.amazonaws.com)')
    .option('--since <duration>', 'only calls from this long ago on, e.g. 30s, 10m, 2h')
    .addHelpText('after', '\nOne filter at a time (CloudTrail\'s LookupEvents takes one attribute).\nExamples:\n  npx berth audit --user alice\n  npx berth audit -f --source iam')
    .action(async (opts) => {
      const sinceMs = opts.since !== undefined ? Date.now() - parseDuration(opts.since) : undefined;
      const cfg = clientConfigFrom(opts);
      outcome.endpoint = cfg.endpoint;
      outcome.exitCode = await auditCommand(
        cfg,
        { follow: opts.follow, user: opts.user, event: opts.event, resource: opts.resource, accessKey: opts.accessKey, source: opts.source, sinceMs, output: opts.output },
        term,
      );
    });

  const joinToken = program.command('join-token').description('Create, list and revoke the join tokens agent hosts join a cluster with (berth agent --join-token).');
  clientCommand(joinToken, 'create', 'Create a join token for a cluster and print it (the token alone on stdout).')
    .addOption(new Option('--expires-in <duration>', 'how long it can join, from 5m to 168h').default(24 * 3_600_000, '24h').argParser(durationMs))
    .addHelpText('after', '\nExample:\n  TOKEN=$(npx berth join-token create --cluster web --expires-in 1h)\n  berth agent --server http://10.0.0.1:4566 --cluster web --join-token "$TOKEN"   # on the agent host')
    .action(async (opts) => {
      const seconds = Math.round(opts.expiresIn / 1000);
      if (seconds < 300 || seconds > 604_800) throw new UsageError('--expires-in must be from 5m to 168h.');
      const cfg = clientConfigFrom(opts);
      outcome.endpoint = cfg.endpoint;
      outcome.exitCode = await createJoinTokenCommand(cfg, { cluster: opts.cluster, validSeconds: seconds, output: opts.output }, term);
    });
  clientCommand(joinToken, 'list', 'List a cluster\'s join tokens (ids and expiry; never their secrets).')
    .action(async (opts) => {
      const cfg = clientConfigFrom(opts);
      outcome.endpoint = cfg.endpoint;
      outcome.exitCode = await listJoinTokensCommand(cfg, { cluster: opts.cluster, output: opts.output }, term);
    });
  clientCommand(joinToken, 'revoke <token-id>', 'Revoke a join token (its id, or the whole token): it can no longer join.', { output: false })
    .action(async (tokenId: string, opts) => {
      const cfg = clientConfigFrom(opts);
      outcome.endpoint = cfg.endpoint;
      outcome.exitCode = await revokeJoinTokenCommand(cfg, tokenId, { cluster: opts.cluster }, term);
    });

  clientCommand(program, 'stop [task-id...]', 'Stop tasks, or scale a service to 0 with --service, and wait until they have stopped.')
    .option('--service <name>', 'scale this service to 0 (its tasks drain from their target groups, then stop)')
    .option('--reason <text>', 'why the tasks are stopped (shown as their stoppedReason)')
    .option('--no-wait', 'return once the stop is asked for')
    .addHelpText('after', '\nExamples:\n  npx berth stop 0f1e2d3c4b5a69788796a5b4c3d2e1f0 --reason "stuck"\n  npx berth stop --service web')
    .action(async (taskIds: string[], opts) => {
      outcome.exitCode = await stopCommand(api(opts), taskIds, { cluster: opts.cluster, service: opts.service, reason: opts.reason, wait: opts.wait, output: opts.output }, term);
    });

  clientCommand(program, 'logs [task-or-service...]', 'Print the output of tasks or of a service\'s tasks, like docker logs; -f follows it.', { output: false })
    .option('-f, --follow', 'keep printing new lines until the tasks stop (a service: until it is deleted)')
    .option('--since <duration>', 'only lines from this long ago on, e.g. 30s, 10m, 2h')
    .option('-t, --timestamps', 'prefix each line with its time')
    .option('--service <name>', 'the service whose tasks to read')
    .option('--task <id>', 'a task to read (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
    .addHelpText('after', '\nA 32-hex-digit id or a task ARN names a task; anything else a service.\n\nExamples:\n  npx berth logs -f 0f1e2d3c4b5a69788796a5b4c3d2e1f0\n  npx berth logs --since 10m web | grep ERROR')
    .action(async (names: string[], opts) => {
      if (opts.since !== undefined) parseDuration(opts.since);
      outcome.exitCode = await logsCommand(api(opts), names, opts, term);
    });

  program
    .command('status')
    .description('Show the control plane: its replicas, which replica leads each duty, and the agents with their last heartbeat.')
    .addOption(new Option('--output <format>', 'text for people, json for programs (the health document)').choices(['text', 'json']).default('text'))
    .addOption(new Option('--operator-token <token>', 'the operator token, if the server was given one (default: BERTH_OPERATOR_TOKEN)').helpGroup('Connection:'))
    .addOption(new Option('--server <urls>', 'Berth endpoint, or several replicas\' separated by commas: the first that answers is asked (default: AWS_ENDPOINT_URL, else the data dir\'s, else http://127.0.0.1:4566)').helpGroup('Connection:'))
    .addOption(new Option('--data-dir <dir>', 'a local Berth\'s data dir, for its endpoint (default: BERTH_DATA_DIR or ./.berth)').helpGroup('Connection:'))
    .addHelpText('after', '\nNo credentials needed: it reads /_berth/health (with the operator token when the server has one).\n\nExamples:\n  npx berth status\n  npx berth status --server http://10.0.0.1:4566,http://10.0.0.2:4566 --output json')
    .action(async (opts: { output: 'text' | 'json'; operatorToken?: string; server?: string; dataDir?: string }) => {
      const endpoints = endpointsFrom(opts);
      outcome.endpoint = endpoints.join(',');
      outcome.exitCode = await statusCommand(endpoints, { output: opts.output, operatorToken: opts.operatorToken ?? process.env.BERTH_OPERATOR_TOKEN }, term);
    });
  clientCommand(program, 'console', 'Print a one-time link that signs a browser in to the web console (/console) as your access key.', { output: false })
    .addHelpText('after', '\nThe link works once, within 5 minutes. The console is also at <endpoint>/console with an access key pair.')
    .action(async (opts) => {
      outcome.exitCode = await consoleCommand(api(opts).config, term);
    });
  addComposeCommands(program, api, outcome, term);

  consistentErrors(program, 'berth');
  return program;
}

/** One line saying what went wrong, for people (no stack trace unless BERTH_DEBUG is set). */
function describeError(e: unknown, endpoint: string | undefined): string {
  if (e instanceof AwsApiError) return e.message.replace(/: $/, '');
  const err = e as NodeJS.ErrnoException;
  const code = err?.code ?? (err?.cause as NodeJS.ErrnoException | undefined)?.code;
  if (code && NETWORK_ERRORS.has(code) && endpoint) return `cannot reach Berth at ${endpoint} (${err.message}). Is it running? (npx berth up)`;
  return err?.message ?? String(e);
}

/**
 * Runs `berth` with these arguments; resolves with the exit status, or -1 when the command
 * keeps running (up, agent). Writes to the process's terminal (and then a closed standard output
 * ends the process quietly), or to `given`.
 */
export async function main(argv: string[], given?: Terminal): Promise<number> {
  const term = given ?? processTerminal();
  const outcome: Outcome = { keepRunning: false, exitCode: 0 };
  const program = buildProgram(term, outcome);
  // Help and client commands end quietly when their reader goes away (up and agent say otherwise).
  if (given === undefined) guardClosedOutput({ exit: true });
  try {
    if (argv.length === 0) {
      program.outputHelp({ error: true });
      return 2;
    }
    await program.parseAsync(argv, { from: 'user' });
    return outcome.keepRunning ? -1 : outcome.exitCode;
  } catch (e) {
    if (e instanceof CommanderError) {
      const informational = e.code === 'commander.helpDisplayed' || e.code === 'commander.help' || e.code === 'commander.version';
      return informational && e.exitCode === 0 ? 0 : 2;
    }
    if (e instanceof UsageError) {
      const path = outcome.command ? `berth ${outcome.command}` : 'berth';
      term.err(`berth: ${e.message}\nRun '${path} --help' for usage.\n`);
      return 2;
    }
    term.err(`berth: ${describeError(e, outcome.endpoint)}\n`);
    if (process.env.BERTH_DEBUG) term.err(`${(e as Error)?.stack ?? e}\n`);
    return 1;
  }
}
