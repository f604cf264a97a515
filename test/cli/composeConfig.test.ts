// `berth compose config`'s pure pieces against the Compose Specification's documented behaviour:
// interpolation (spec "Interpolation"), .env files, merging several files (spec "Merge and
// override"), extends, profiles, port syntax, durations and sizes, the unsupported-key report,
// and the messages invalid files get (worded as `docker compose config` words them).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { ComposeError, interpolateString, parseEnvFile } from '../../src/cli/compose/interpolate.js';
import { bytesMiB, commandOf, durationS, loadProject, parsePort, startOrder, type LoadOptions } from '../../src/cli/compose/model.js';
import { configDocument } from '../../src/cli/compose/configDocument.js';

const DIR = '/virtual/myapp';

/** Loads a project from in-memory files under DIR. */
function load(files: Record<string, string>, opts: Partial<LoadOptions> = {}) {
  const abs = new Map(Object.entries(files).map(([k, v]) => [resolve(DIR, k), v]));
  return loadProject({
    env: {},
    ...opts,
    files: (opts.files ?? ['compose.yaml']).map((f) => resolve(DIR, f)),
    readFile: (p) => {
      const t = abs.get(p);
      if (t === undefined) throw new ComposeError(`open ${p}: no such file or directory`);
      return t;
    },
  });
}

test('interpolation: the forms of the specification, nesting, $$, and errors', () => {
  const vars = { SET: 'v', EMPTY: '', TAG: undefined };
  const unset: string[] = [];
  const i = (s: string) => interpolateString(s, { vars, warnUnset: (n) => unset.push(n) }, 'services.web.image');
  assert.equal(i('webapp:${TAG:-v1.5}'), 'webapp:v1.5');
  assert.equal(i('${EMPTY:-default}'), 'default', ':- treats empty as unset');
  assert.equal(i('${EMPTY-default}'), '', '- only replaces unset');
  assert.equal(i('${SET:-x}'), 'v');
  assert.equal(i('${SET:+alt}|${EMPTY:+alt}|${EMPTY+alt}|${NOPE+alt}'), 'alt||alt|');
  assert.equal(i('$SET-$SET.${SET}'), 'v-v.v');
  assert.equal(i('${NOPE:-${SET}-x}'), 'v-x', 'nested default');
  assert.equal(i('${NOPE:-${ALSO:-deep}}'), 'deep');
  assert.equal(i('cost $$5 and $${SET}'), 'cost $5 and ${SET}', '$$ is a literal $');
  assert.equal(i('a $ b $1'), 'a $ b $1', 'a $ that starts no name stays');
  assert.equal(i('x${NOPE}y'), 'xy');
  assert.deepEqual(unset, ['NOPE'], 'unset without default is reported (blank string)');
  assert.throws(() => i('${NOPE:?the tag is required}'), { message: 'required variable NOPE is missing a value: the tag is required' });
  assert.throws(() => i('${EMPTY:?}'), { message: 'required variable EMPTY is missing a value' });
  assert.equal(i('${EMPTY?set but empty is fine}'), '');
  assert.throws(() => i('${SET'), /invalid interpolation format for services.web.image.\nYou may need to escape any \$ with another \$.\n\$\{SET/);
  assert.throws(() => i('${}'), /invalid interpolation format/);
  assert.throws(() => i('${SET!x}'), /invalid interpolation format/);
});

test('.env files: export, comments, quotes, escapes, references to earlier keys', () => {
  const text = [
    '# a comment',
    'export A=1',
    'B = two words # trailing comment',
    "C='single ${A} # kept'",
    'D="line\\nnext ${A}"',
    'E=${A}${B:+!}',
    'F=',
    'G="multi',
    'line"',
    'H=x#not-a-comment',
    'INHERITED',
  ].join('\n');
  const out = parseEnvFile(text, '.env', {}, (k) => (k === 'INHERITED' ? 'from shell' : undefined));
  assert.deepEqual(out, { A: '1', B: 'two words', C: 'single ${A} # kept', D: 'line\nnext 1', E: '1!', F: '', G: 'multi\nline', H: 'x#not-a-comment', INHERITED: 'from shell' });
  assert.throws(() => parseEnvFile('BAD KEY=1', '.env'), /failed to read .env: line 1: unexpected character in variable name/);
  assert.throws(() => parseEnvFile("A='open", '.env'), /unterminated quoted value/);
});

test('.env feeds interpolation; the shell environment wins over it; --env-file replaces it', () => {
  const files = {
    'compose.yaml': 'services:\n  web:\n    image: "web:${TAG}"\n    environment:\n      MODE: ${MODE:-dev}\n      FROM_SHELL:\n',
    '.env': 'TAG=1.0\nMODE=prod\n',
    'other.env': 'TAG=2.0\n',
  };
  let p = load(files);
  assert.equal(p.services.web!.image, 'web:1.0');
  assert.equal(p.services.web!.environment.MODE, 'prod');
  assert.equal('FROM_SHELL' in p.services.web!.environment, false, 'a name without value and unset is left out');
  p = load(files, { env: { TAG: 'shell', FROM_SHELL: 'yes' } });
  assert.equal(p.services.web!.image, 'web:shell');
  assert.equal(p.services.web!.environment.FROM_SHELL, 'yes');
  p = load(files, { envFiles: [resolve(DIR, 'other.env')] });
  assert.equal(p.services.web!.image, 'web:2.0');
  assert.equal(p.services.web!.environment.MODE, 'dev', '.env is not read with --env-file');
  assert.throws(() => load(files, { envFiles: [resolve(DIR, 'missing.env')] }), /couldn't find env file/);
});

test('several files merge by the specification\'s rules', () => {
  const p = load(
    {
      'compose.yaml': [
        'services:',
        '  web:',
        '    image: web:1',
        '    command: ["serve", "--a"]',
        '    environment: [TZ=utc, PORT=80]',
        '    ports: ["8080:80"]',
        '    labels: {team: a}',
        '    healthcheck: {test: ["CMD", "true"], interval: 10s}',
        '    depends_on: [db]',
        '  db:',
        '    image: db:1',
      ].join('\n'),
      'compose.override.yaml': [
        'services:',
        '  web:',
        '    command: serve --b',
        '    environment: {PORT: "8080"}',
        '    ports: ["8080:80", "9090:90"]',
        '    labels: [owner=b]',
        '    healthcheck: {retries: 5}',
        '    depends_on: {db: {condition: service_started, required: false}}',
      ].join('\n'),
    },
    { files: ['compose.yaml', 'compose.override.yaml'] },
  );
  const web = p.services.web!;
  assert.deepEqual(web.command, ['serve', '--b'], 'command is replaced');
  assert.deepEqual(web.environment, { TZ: 'utc', PORT: '8080' }, 'environment merges by name');
  assert.deepEqual(web.ports.map((x) => `${x.published}:${x.target}`), ['8080:80', '9090:90'], 'ports append, unique');
  assert.deepEqual(web.labels, { team: 'a', owner: 'b' });
  assert.equal(web.healthcheck!.interval, 10);
  assert.equal(web.healthcheck!.retries, 5, 'mappings merge deep');
  assert.deepEqual(web.depends_on.db, { condition: 'service_started', required: false, restart: false });
  assert.equal(p.name, 'myapp', 'the project name defaults to the directory\'s');
});

test('extends (same file and another file), profiles, project name', () => {
  const files = {
    'compose.yaml': [
      'name: My_App!',
      'services:',
      '  base:',
      '    image: node:20',
      '    environment: {A: "1"}',
      '  web:',
      '    extends: base',
      '    environment: {B: "2"}',
      '  worker:',
      '    extends: {file: common.yaml, service: job}',
      '  debug:',
      '    image: tools',
      '    profiles: [debug]',
    ].join('\n'),
    'common.yaml': 'services:\n  job:\n    image: job:${JOB_TAG:-3}\n    command: run\n',
  };
  let p = load(files);
  assert.equal(p.name, 'my_app');
  assert.deepEqual(p.services.web!.environment, { A: '1', B: '2' });
  assert.equal(p.services.web!.image, 'node:20');
  assert.equal(p.services.worker!.image, 'job:3');
  assert.deepEqual(p.services.worker!.command, ['run']);
  assert.equal(p.services.debug, undefined, 'a service with profiles is off unless one is active');
  p = load(files, { profiles: ['debug'], projectName: 'Other' });
  assert.ok(p.services.debug);
  assert.equal(p.name, 'other');
  assert.ok(load(files, { env: { COMPOSE_PROFILES: 'x,debug' } }).services.debug);
  assert.throws(
    () => load({ 'compose.yaml': 'services:\n  web: {image: w, depends_on: [db]}\n  db: {image: d, profiles: [db]}\n' }),
    { message: 'service "db" was pulled in as dependency of service "web" but is not enabled by the active profiles. You may fix this by adding a common profile to "db" and "web".' },
  );
  assert.throws(() => load({ 'compose.yaml': 'services:\n  a: {image: x, extends: b}\n  b: {image: y, extends: a}\n' }), /circular reference with extends/);
});

test('unsupported keys are reported once each with their path; x- fields are kept', () => {
  const p = load(
    {
      'compose.yaml': 'x-common: &c {image: x}\nservices:\n  a:\n    <<: *c\n    cap_add: [NET_ADMIN]\n    x-aws-role: {Version: "2012-10-17"}\n    deploy: {placement: {constraints: []}, replicas: 2}\n  b: {image: y, cap_add: [SYS_TIME], privileged: true}\nvolumes:\n  data: {}\n',
      'more.yaml': 'services:\n  a: {cap_add: [SYS_ADMIN]}\n',
    },
    { files: ['compose.yaml', 'more.yaml'] },
  );
  assert.deepEqual(p.unsupported.sort(), ['services.a.cap_add', 'services.a.deploy.placement', 'services.b.cap_add', 'services.b.privileged']);
  assert.equal(p.services.a!.replicas, 2);
  assert.ok('x-aws-role' in p.services.a!.extensions);
  assert.equal(p.services.a!.image, 'x', 'YAML merge keys (x- anchors) work');
  const doc = configDocument(p);
  assert.equal((doc.services as Record<string, Record<string, unknown>>).a!['x-aws-role'] !== undefined, true);
});

test('volumes: top-level named volumes (compose\'s names, external, name:), short and long syntax, binds resolved against the project dir, read-only', () => {
  const p = load({
    'compose.yaml': [
      'services:',
      '  db:',
      '    image: pg',
      '    volumes:',
      '      - data:/var/lib/pg',
      '      - ./conf:/etc/pg:ro',
      '      - /srv/shared:/shared:ro,z',
      '      - /scratch',
      '      - {type: volume, source: logs, target: /logs, read_only: true}',
      '      - {type: bind, source: ../other, target: /other}',
      '      - {type: tmpfs, target: /run}',
      'volumes:',
      '  data: {labels: {tier: db}, driver_opts: {type: none}}',
      '  logs: {external: true}',
      '  named: {name: given-name}',
      '',
    ].join('\n'),
  });
  assert.deepEqual(p.volumes, {
    data: { name: 'myapp_data', driver: 'local', driver_opts: { type: 'none' }, labels: { tier: 'db' }, external: false },
    logs: { name: 'logs', driver: 'local', driver_opts: {}, labels: {}, external: true },
    named: { name: 'given-name', driver: 'local', driver_opts: {}, labels: {}, external: false },
  });
  assert.deepEqual(p.services.db!.volumes, [
    { type: 'volume', source: 'data', target: '/var/lib/pg', read_only: false },
    { type: 'bind', source: '/virtual/myapp/conf', target: '/etc/pg', read_only: true },
    { type: 'bind', source: '/srv/shared', target: '/shared', read_only: true },
    { type: 'volume', target: '/scratch', read_only: false },
    { type: 'volume', source: 'logs', target: '/logs', read_only: true },
    { type: 'bind', source: '/virtual/other', target: '/other', read_only: false },
  ]);
  assert.deepEqual(p.unsupported.sort(), ['services.db.volumes[2]:z', 'services.db.volumes[6].type: tmpfs']);
  const doc = configDocument(p) as { volumes: Record<string, unknown>; services: Record<string, { volumes: unknown[] }> };
  assert.deepEqual(doc.volumes.data, { name: 'myapp_data', driver_opts: { type: 'none' }, labels: { tier: 'db' } });
  assert.deepEqual(doc.services.db!.volumes[1], { type: 'bind', source: '/virtual/myapp/conf', target: '/etc/pg', read_only: true });
  assert.throws(() => load({ 'compose.yaml': 'services:\n  a: {image: x, volumes: ["nope:/d"]}\n' }), { message: 'service "a" refers to undefined volume nope: invalid compose project' });
  assert.throws(() => load({ 'compose.yaml': 'services:\n  a: {image: x, volumes: ["./d:rel"]}\n' }), /the mount target must be an absolute path/);
  assert.throws(() => load({ 'compose.yaml': 'services:\n  a: {image: x}\nvolumes:\n  d: {name: has.dot}\n' }), /cannot be an ECS volume name/);
  assert.throws(() => load({ 'compose.yaml': 'services:\n  a: {image: x}\nvolumes:\n  d: {size: 1}\n' }), /volumes.d additional properties 'size' not allowed/);
});

test('configs: file (resolved against the project dir), content and environment; mounted at /<name> or target; uid/gid/mode and external reported', () => {
  const p = load(
    {
      'compose.yaml': 'services:\n  web:\n    image: x\n    configs: [a, {source: b, target: /etc/b.conf, mode: 0440}, {source: c, target: rel.conf}]\nconfigs:\n  a: {file: ./a.conf}\n  b: {content: "port ${PORT}"}\n  c: {environment: GREETING}\n  d: {external: true}\n',
    },
    { env: { PORT: '80', GREETING: 'hi' } },
  );
  assert.deepEqual(p.configs, { a: { file: '/virtual/myapp/a.conf' }, b: { content: 'port 80' }, c: { content: 'hi' } });
  assert.deepEqual(p.services.web!.configs, [{ source: 'a', target: '/a' }, { source: 'b', target: '/etc/b.conf' }, { source: 'c', target: '/rel.conf' }]);
  assert.deepEqual(p.unsupported.sort(), ['configs.d.external', 'services.web.configs.b.mode']);
  assert.throws(() => load({ 'compose.yaml': 'services:\n  a: {image: x, configs: [nope]}\n' }), { message: 'service "a" refers to undefined config nope: invalid compose project' });
  assert.throws(() => load({ 'compose.yaml': 'services:\n  a: {image: x}\nconfigs:\n  c: {}\n' }), /config "c" must declare either `file`, `content` or `environment`/);
});

test('invalid files get docker compose\'s kind of message', () => {
  const bad = (yaml: string, message: RegExp) => assert.throws(() => load({ 'compose.yaml': yaml }), message);
  bad('services:\n  web: {imagee: x}\n', /services\.web additional properties 'imagee' not allowed/);
  bad('servicess: {}\n', /\(root\) Additional property servicess is not allowed/);
  bad('services:\n  web: {command: x}\n', /service "web" has neither an image nor a build context specified: invalid compose project/);
  bad('services:\n  web: {image: x, depends_on: [db]}\n', /service "web" depends on undefined service "db": invalid compose project/);
  bad('services:\n  a: {image: x, depends_on: [b]}\n  b: {image: x, depends_on: [a]}\n', /dependency cycle detected: a -> b -> a/);
  bad('services:\n  web: {image: x, ports: "80"}\n', /services\.web\.ports must be a list/);
  bad('services:\n  web: {image: x, mem_limit: lots}\n', /services\.web\.mem_limit: invalid size "lots"/);
  bad('services:\n  web:\n    image: x\n  web:\n    image: y\n', /yaml: line \d+: Map keys must be unique/);
  bad('services:\n  web: {image: "${TAG:?set TAG}"}\n', /required variable TAG is missing a value: set TAG/);
  bad('services:\n  web: {image: x, secrets: [nope]}\n', /refers to undefined secret nope/);
  bad('services:\n  web: {image: x, depends_on: {db: {condition: service_healthy}}}\n  db: {image: y}\n', /"db" has no healthcheck configured/);
  bad('', /empty compose file/);
});

test('ports, durations, sizes and commands in every syntax the specification shows', () => {
  const ports = (p: unknown) => parsePort(p, 'p').map((x) => `${x.host_ip ? `${x.host_ip}:` : ''}${x.published ?? ''}:${x.target}/${x.protocol}`);
  assert.deepEqual(ports('3000'), [':3000/tcp']);
  assert.deepEqual(ports('3000-3002'), [':3000/tcp', ':3001/tcp', ':3002/tcp']);
  assert.deepEqual(ports('8000:8000'), ['8000:8000/tcp']);
  assert.deepEqual(ports('9090-9091:8080-8081'), ['9090:8080/tcp', '9091:8081/tcp']);
  assert.deepEqual(ports('127.0.0.1:8001:8001'), ['127.0.0.1:8001:8001/tcp']);
  assert.deepEqual(ports('6060:6060/udp'), ['6060:6060/udp']);
  assert.deepEqual(ports(80), [':80/tcp']);
  assert.deepEqual(ports({ target: 80, published: '8080', app_protocol: 'http' }), ['8080:80/tcp']);
  assert.throws(() => parsePort('80/sctp', 'p'), /invalid proto: sctp/);
  assert.throws(() => parsePort('70000', 'p'), /invalid port/);
  assert.equal(durationS('1m30s', 'd'), 90);
  assert.equal(durationS('500ms', 'd'), 0.5);
  assert.equal(durationS('2h', 'd'), 7200);
  assert.throws(() => durationS('10', 'x'), /invalid duration/);
  assert.equal(bytesMiB('512m', 'm'), 512);
  assert.equal(bytesMiB('1g', 'm'), 1024);
  assert.equal(bytesMiB('1gb', 'm'), 1024);
  assert.equal(bytesMiB(1048576, 'm'), 1);
  assert.equal(bytesMiB('300k', 'm'), 1);
  assert.deepEqual(commandOf('sh -c "echo \\"hi\\" $$HOME" \'a b\'', 'c'), ['sh', '-c', 'echo "hi" $$HOME', 'a b']);
  assert.throws(() => commandOf('echo "open', 'c'), /unterminated quote/);
});

test('start order: dependencies first, by name otherwise', () => {
  const p = load({ 'compose.yaml': 'services:\n  web: {image: x, depends_on: [api]}\n  api: {image: x, depends_on: {db: {condition: service_started}, cache: {condition: service_started}}}\n  db: {image: x}\n  cache: {image: x}\n  zz: {image: x}\n' });
  assert.deepEqual(startOrder(p.services), ['cache', 'db', 'api', 'web', 'zz']);
});

test('berth compose config from the command line: the example project, its warnings, an invalid file\'s message and status', async () => {
  const { berth, REPO_ROOT } = await import('./helpers.js');
  const { join } = await import('node:path');
  const file = join(REPO_ROOT, 'examples', 'compose-shop', 'compose.yaml');
  const ok = await berth(['compose', '-f', file, 'config'], { APP: '/srv/shop', NODE: '/usr/bin/node' });
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /^name: shop\n/);
  assert.match(ok.stdout, /command:\n      - \/usr\/bin\/node\n      - api.mjs/);
  assert.match(ok.stdout, /working_dir: \/srv\/shop/);
  assert.equal(ok.stderr, '', 'nothing unsupported in the example');
  const services = await berth(['compose', '-f', file, 'config', '--services'], { APP: '/srv/shop' });
  assert.deepEqual(services.stdout.trim().split('\n'), ['postgres', 'migrate', 'redis', 'api', 'front', 'worker']);
  const missing = await berth(['compose', '-f', file, 'config'], {});
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /^berth: required variable APP is missing a value: set APP to this directory\n$/);
});
