// The berth command as a person first meets it: --help on every command (exit 0, every flag
// documented), one consistent answer to an unknown flag, a bad value or a missing argument
// (`berth: ...` and a --help hint, exit 2), API errors as `berth: <Code>: <message>` (exit 1,
// no stack trace), an unreachable server said plainly, `credentials --export` with
// AWS_DEFAULT_REGION, and a `berth up` banner whose suggestions work from a fresh clone.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ECSClient, CreateClusterCommand } from '@aws-sdk/client-ecs';
import { AWS_CLI, awsEnvFor, awsOk, freePort, hasAwsCli, startTestBerth, type TestBerth } from '../helpers/fixture.js';
import { spawnBerth } from '../helpers/processes.js';
import { berth, REPO_ROOT, shell } from './helpers.js';

/** Each command and the flags its --help must document. */
const COMMANDS: Record<string, string[]> = {
  up: ['--port', '--host', '--data-dir', '--ephemeral', '--region', '--store', '--driver', '--no-agent', '--agent-cluster', '--attribute', '--log-level', '--log-format'],
  agent: ['--server', '--cluster', '--driver', '--state-dir', '--data-dir', '--region', '--attribute', '--cpu', '--memory'],
  credentials: ['--data-dir', '--export', '--region'],
  version: [],
  ps: ['--cluster', '--output', '--all', '--server', '--data-dir', '--region'],
  run: ['--cluster', '--output', '--env', '--container', '--count', '--detach', '--server'],
  deploy: ['--cluster', '--output', '--task-definition', '--image', '--container', '--env', '--detach', '--timeout', '--server'],
  rollback: ['--cluster', '--output', '--detach', '--timeout', '--server'],
  events: ['--cluster', '--output', '--follow', '--server'],
  stop: ['--cluster', '--output', '--service', '--reason', '--no-wait', '--server'],
  status: ['--output', '--operator-token', '--server', '--data-dir'],
  logs: ['--cluster', '--follow', '--since', '--timestamps', '--service', '--task', '--server', '--data-dir', '--region'],
  compose: ['--file', '--project-name', '--env-file', '--profile'],
};

const HINT = (cmd: string) => new RegExp(`\\nRun 'berth${cmd ? ` ${cmd}` : ''} --help' for usage\\.\\n$`);

let server: TestBerth;
let env: NodeJS.ProcessEnv;
before(async () => {
  server = await startTestBerth();
  const ecs = new ECSClient(server.clientConfig);
  await ecs.send(new CreateClusterCommand({ clusterName: 'default' }));
  ecs.destroy();
  env = { AWS_ACCESS_KEY_ID: server.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: server.credentials.secretAccessKey, AWS_ENDPOINT_URL: server.url };
});
after(async () => {
  await server.close();
});

test('--help on every command exits 0 on standard output and documents each flag', async () => {
  const top = await berth(['--help']);
  assert.equal(top.status, 0, top.stderr);
  for (const cmd of Object.keys(COMMANDS)) assert.match(top.stdout, new RegExp(`\\n  ${cmd} `), `berth --help lists ${cmd}`);
  assert.equal((await berth(['help', 'deploy'])).status, 0);
  const runs = await Promise.all(Object.keys(COMMANDS).map((cmd) => berth([cmd, '--help'])));
  for (const [i, [cmd, flags]] of Object.entries(COMMANDS).entries()) {
    const r = runs[i]!;
    assert.equal(r.status, 0, `berth ${cmd} --help: ${r.stderr}`);
    assert.equal(r.stderr, '', `berth ${cmd} --help writes nothing to stderr`);
    assert.match(r.stdout, new RegExp(`^Usage: berth ${cmd}`), `berth ${cmd} --help starts with its usage`);
    for (const flag of flags) assert.ok(r.stdout.includes(flag), `berth ${cmd} --help documents ${flag}:\n${r.stdout}`);
  }
  // -h too, and the version both ways.
  assert.equal((await berth(['logs', '-h'])).status, 0);
  const version = JSON.parse(readFileSync(fileURLToPath(new URL('../../../package.json', import.meta.url)), 'utf8')).version;
  assert.equal((await berth(['version'])).stdout, `${version}\n`);
  assert.equal((await berth(['--version'])).stdout, `${version}\n`);
});

test('usage errors: one message shape and exit 2 for unknown flags, bad values, missing or extra arguments', async () => {
  const cases: Array<[string[], RegExp, string]> = [
    [['up', '--frobnicate'], /^berth: Unknown option '--frobnicate'/, 'up'],
    [['credentials', '--frobnicate'], /^berth: Unknown option '--frobnicate'/, 'credentials'],
    [['agent', '--frobnicate'], /^berth: Unknown option '--frobnicate'/, 'agent'],
    [['logs', '--frobnicate', 'web'], /^berth: Unknown option '--frobnicate'/, 'logs'],
    [['ps', '--frobnicate'], /^berth: Unknown option '--frobnicate'/, 'ps'],
    [['deploy', 'web', '--imgae', 'x'], /^berth: Unknown option '--imgae'\n\(Did you mean --image\?\)/, 'deploy'],
    [['up', '--port', 'eleven'], /^berth: Option '--port <n>' argument 'eleven' is invalid\. --port must be a whole number from 0 to 65535/, 'up'],
    [['up', '--log-level', 'loud'], /^berth: Option '--log-level <level>' argument 'loud' is invalid\. Allowed choices are debug, info, warn, error, off\./, 'up'],
    [['up', '--log-format', 'xml'], /^berth: Option '--log-format <format>' argument 'xml' is invalid/, 'up'],
    [['up', '--driver', 'kvm'], /--driver must be docker, process or auto/, 'up'],
    [['up', '--attribute', 'novalue'], /argument 'novalue' is invalid\. It takes key=value\./, 'up'],
    [['ps', '--output', 'yaml'], /^berth: Option '--output <format>' argument 'yaml' is invalid\. Allowed choices are text, json\./, 'ps'],
    [['run', 'hello', '--count', '0'], /argument '0' is invalid\. It must be a whole number from 1 to 10\./, 'run'],
    [['run', 'hello', '--env', 'NOEQUALS'], /argument 'NOEQUALS' is invalid\. It takes NAME=value/, 'run'],
    [['run'], /^berth: Missing required argument 'task-definition'/, 'run'],
    [['deploy'], /^berth: Missing required argument 'service'/, 'deploy'],
    [['deploy', 'web', '--timeout', 'soon'], /argument 'soon' is invalid\. It takes a duration like 30s, 10m or 2h\./, 'deploy'],
    [['events', 'a', 'b'], /^berth: Too many arguments for 'events'/, 'events'],
    [['logs', '--since', 'yesterday', 'web'], /^berth: --since takes a duration/, 'logs'],
    [['logs'], /^berth: berth logs needs a task id or a service name\./, 'logs'],
    [['stop'], /^berth: berth stop needs task ids, or --service NAME/, 'stop'],
    [['stop', 'web'], /is not a task id .* use --service web/, 'stop'],
    [['deploy', 'web', '--task-definition', 'web:2', '--image', 'x'], /cannot be combined with --image or --env/, 'deploy'],
    [['frobnicate'], /^berth: Unknown command 'frobnicate'/, ''],
  ];
  const runs = await Promise.all(cases.map(([args]) => berth(args, env)));
  for (const [i, [args, message, cmd]] of cases.entries()) {
    const r = runs[i]!;
    assert.equal(r.status, 2, `berth ${args.join(' ')} exits 2: ${r.stderr}`);
    assert.match(r.stderr, message, `berth ${args.join(' ')}`);
    assert.match(r.stderr, HINT(cmd), `berth ${args.join(' ')} ends with the --help hint: ${r.stderr}`);
    assert.equal(r.stdout, '', `berth ${args.join(' ')} prints nothing on stdout`);
    assert.doesNotMatch(r.stderr, /\n\s+at |TypeError|ERR_PARSE_ARGS/, 'no stack trace, no parser internals');
  }
  // No command at all: the help, on stderr, exit 2.
  const bare = await berth([]);
  assert.equal(bare.status, 2);
  assert.match(bare.stderr, /^Usage: berth <command>/);
});

test('API errors print as "berth: <Code>: <message>" and exit 1; no credentials is a usage error; an unreachable server is said plainly', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['ps', '--cluster', 'nope'], /^berth: ClusterNotFoundException: .+\n$/],
    [['deploy', 'ghost'], /^berth: ServiceNotFoundException: Service 'ghost' not found in cluster 'default'\.\n$/],
    [['events', 'ghost'], /^berth: ServiceNotFoundException: /],
    [['run', 'no-such-family'], /^berth: ClientException: /],
    [['logs', '0123456789abcdef0123456789abcdef'], /^berth: InvalidParameterException: No task '0123456789abcdef0123456789abcdef' in cluster 'default'\.\n$/],
    [['stop', '0123456789abcdef0123456789abcdef'], /^berth: InvalidParameterException: /],
  ];
  const runs = await Promise.all(cases.map(([args]) => berth(args, env)));
  for (const [i, [args, message]] of cases.entries()) {
    const r = runs[i]!;
    assert.equal(r.status, 1, `berth ${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message, `berth ${args.join(' ')}`);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
  const wrongSecret = await berth(['ps'], { ...env, AWS_SECRET_ACCESS_KEY: 'not-the-secret' });
  assert.equal(wrongSecret.status, 1);
  assert.match(wrongSecret.stderr, /^berth: InvalidSignatureException: /);

  const noCreds = await berth(['ps', '--server', server.url]);
  assert.equal(noCreds.status, 2);
  assert.match(noCreds.stderr, /^berth: No credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/);
  assert.match(noCreds.stderr, HINT('ps'));

  const closedPort = await freePort();
  const unreachable = await berth(['ps', '--server', `http://127.0.0.1:${closedPort}`], env);
  assert.equal(unreachable.status, 1);
  assert.match(unreachable.stderr, new RegExp(`^berth: cannot reach Berth at http://127\\.0\\.0\\.1:${closedPort} \\(.*ECONNREFUSED.*\\)\\. Is it running\\? \\(npx berth up\\)\\n$`));
});

test('berth up: banner suggests npx berth credentials and the aws CLI with AWS_DEFAULT_REGION; --log-level and --log-format shape the request log', { skip: !hasAwsCli() && 'aws CLI not installed' }, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'berth-cli-up-'));
  try {
    const up = await spawnBerth(['--no-agent', '--data-dir', dataDir, '--region', 'eu-west-1', '--log-level', 'info', '--log-format', 'json']);
    try {
      const out = up.output();
      assert.match(out, new RegExp(`\\n    eval "\\$\\(npx berth credentials --export --data-dir ${dataDir}\\)"\\n`));
      assert.match(out, new RegExp(`\\n  try: aws --endpoint-url ${up.url} sts get-caller-identity\\n`));

      // The suggested line, as a person pastes it into a shell in the clone, then the suggested aws call.
      const pasted = await shell(
        `eval "$(npx --no berth credentials --export --data-dir ${dataDir})"; env | grep ^AWS_ | sort; '${AWS_CLI}' --endpoint-url ${up.url} sts get-caller-identity --output json`,
        { AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null', AWS_PAGER: '' },
        { cwd: REPO_ROOT },
      );
      assert.equal(pasted.status, 0, pasted.stderr);
      assert.match(pasted.stdout, /^AWS_ACCESS_KEY_ID=AKIA/m);
      assert.match(pasted.stdout, /^AWS_CONFIG_FILE=/m);
      assert.match(pasted.stdout, /^AWS_DEFAULT_REGION=us-east-1$/m);
      assert.match(pasted.stdout, /^AWS_REGION=us-east-1$/m);
      assert.match(pasted.stdout, new RegExp(`^AWS_ENDPOINT_URL=${up.url}$`, 'm'));
      assert.match(pasted.stdout, /"Arn": "arn:aws:iam::\d{12}:root"/);

      // --region of credentials --export sets both region variables.
      const exported = await berth(['credentials', '--export', '--data-dir', dataDir, '--region', 'eu-west-1']);
      assert.ok(exported.stdout.trim().split('\n').every((l) => l.startsWith('export ')), exported.stdout);
      const vars = Object.fromEntries(exported.stdout.trim().split('\n').map((l) => l.replace(/^export /, '').split(/=(.*)/s).slice(0, 2) as [string, string]));
      assert.deepEqual(Object.keys(vars).sort(), ['AWS_ACCESS_KEY_ID', 'AWS_DEFAULT_REGION', 'AWS_ENDPOINT_URL', 'AWS_REGION', 'AWS_SECRET_ACCESS_KEY']);
      assert.equal(vars.AWS_DEFAULT_REGION, 'eu-west-1');
      assert.equal(vars.AWS_REGION, 'eu-west-1');

      // The first non-root user, as the banner suggests it, works as printed.
      const hint = /\n {4}(aws --endpoint-url \S+ iam create-user [^\n]+)\n/.exec(out)?.[1];
      assert.ok(hint, out);
      assert.match(out, /root's \(they may do everything\)/);
      const created = await shell(`eval "$(npx --no berth credentials --export --data-dir ${dataDir})"; ${hint.replace(/\baws /g, `'${AWS_CLI}' `)} --output json`, { AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null', AWS_PAGER: '' }, { cwd: REPO_ROOT });
      assert.equal(created.status, 0, created.stderr);
      assert.match(created.stdout, /"UserName": "alice"[\s\S]*"AccessKeyId": "AKIA/);

      // The request log: JSON lines at info.
      await awsOk({ ...awsEnvFor(up.url, { accessKeyId: vars.AWS_ACCESS_KEY_ID!, secretAccessKey: vars.AWS_SECRET_ACCESS_KEY! }), AWS_DEFAULT_REGION: 'eu-west-1', AWS_REGION: 'eu-west-1' }, ['ecs', 'list-clusters']);
      const logged = up.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { operation: string; status: number; level: string });
      assert.ok(logged.some((l) => l.operation === 'ecs.ListClusters' && l.status === 200 && l.level === 'info'), up.output());
    } finally {
      up.child.kill('SIGTERM');
      assert.equal(await up.exited, 0);
    }

    // --log-level warn: a successful request is not logged, a refused one is, as text.
    const quiet = await spawnBerth(['--no-agent', '--data-dir', dataDir, '--log-level', 'warn']);
    try {
      const creds = JSON.parse(readFileSync(join(dataDir, 'credentials.json'), 'utf8'));
      const awsEnv = awsEnvFor(quiet.url, creds);
      await awsOk(awsEnv, ['ecs', 'list-clusters']);
      await awsOk(awsEnv, ['ecs', 'describe-clusters', '--clusters', 'x']);
      const refused = await shell(`'${AWS_CLI}' --endpoint-url ${quiet.url} ecs describe-services --cluster nope --services web`, awsEnv);
      assert.notEqual(refused.status, 0);
      const lines = quiet.output().split('\n').filter((l) => /^\d{4}-\d\d-\d\dT/.test(l));
      assert.ok(lines.some((l) => / root ecs\.DescribeServices 400 [\d.]+ms ClusterNotFoundException$/.test(l)), quiet.output());
      assert.ok(!lines.some((l) => /ecs\.ListClusters 200/.test(l)), 'a 200 is not logged at warn');
    } finally {
      quiet.child.kill('SIGTERM');
      await quiet.exited;
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('package.json names bin/berth as the "berth" executable (npx berth works from the clone)', () => {
  const pkg = JSON.parse(readFileSync(fileURLToPath(new URL('../../../package.json', import.meta.url)), 'utf8'));
  assert.equal(pkg.bin?.berth, 'bin/berth');
});
