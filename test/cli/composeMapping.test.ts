// The pure mapping from a compose project to ECS inputs (src/cli/compose/mapping.ts): the task
// definition of a service, service ports on each driver, the name variables, one-off services,
// and a hash that changes with the definition only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadProject } from '../../src/cli/compose/model.js';
import { planProject, portsToChoose, targetGroupName, type PlanInputs } from '../../src/cli/compose/mapping.js';

const YAML = `
name: shop
services:
  api:
    image: api:1
    command: node api.js
    expose: ["3000"]
    environment: {GREETING: hi, DB_HOST: mine}
    mem_limit: 256m
    cpus: 0.5
    labels: {team: a}
    healthcheck: {test: "curl -f localhost:3000", interval: 1s, timeout: 3s, retries: 20}
    secrets: [{source: token, target: API_TOKEN}]
    depends_on: {migrate: {condition: service_completed_successfully}}
    x-aws-role: arn:aws:iam::123456789012:role/api
  front:
    image: front:1
    ports: [{target: 80, published: 8080, app_protocol: http}, "9000:9000"]
    deploy: {replicas: 3}
  db:
    image: db:1
    hostname: database
    networks: {default: {aliases: [pg]}}
    expose: ["5432"]
  migrate:
    image: api:1
secrets:
  token: {file: ./token.txt}
`;

function project() {
  return loadProject({ files: ['/v/compose.yaml'], env: {}, readFile: (p) => (p === '/v/compose.yaml' ? YAML : (() => { throw new Error('none'); })()) });
}

const inputs = (driver: 'docker' | 'process'): PlanInputs => ({
  driver,
  hostAddress: '127.0.0.1',
  chosenPorts: new Map([['api', new Map([[3000, 41000]])], ['db', new Map([[5432, 41001]])]]),
  secretRefs: new Map([['token', '/compose/shop/secrets/token']]),
});

type Container = Record<string, any>;
const containerOf = (plans: ReturnType<typeof planProject>, s: string): Container => (plans.find((p) => p.service === s)!.taskDefinition.containerDefinitions as Container[])[0]!;
const envOf = (c: Container) => Object.fromEntries((c.environment as Array<{ name: string; value: string }>).map((e) => [e.name, e.value]));

test('process driver: a service\'s task definition, its ports, and where the others are', () => {
  const p = project();
  assert.deepEqual(portsToChoose(p.services.api!, 'process'), [3000]);
  assert.deepEqual(portsToChoose(p.services.front!, 'process'), [], 'published ports need no choice');
  const plans = planProject(p, inputs('process'));
  const api = plans.find((x) => x.service === 'api')!;
  assert.equal(api.name, 'shop-api');
  assert.equal(api.taskDefinition.family, 'shop-api');
  assert.equal(api.taskDefinition.taskRoleArn, 'arn:aws:iam::123456789012:role/api');
  const c = containerOf(plans, 'api');
  assert.deepEqual(c.command, ['node', 'api.js']);
  assert.equal(c.memory, 256);
  assert.equal(c.cpu, 512);
  assert.deepEqual(c.dockerLabels, { team: 'a' });
  assert.deepEqual(c.portMappings, [{ containerPort: 3000, hostPort: 41000, protocol: 'tcp' }]);
  assert.deepEqual(c.healthCheck, { command: ['CMD-SHELL', 'curl -f localhost:3000'], interval: 5, timeout: 3, retries: 10, startPeriod: 0 });
  assert.deepEqual(api.notes, ['healthcheck.interval 1s became 5s (ECS allows 5-300)', 'healthcheck.retries 20 became 10 (ECS allows 1-10)']);
  assert.deepEqual(c.secrets, [{ name: 'API_TOKEN', valueFrom: '/compose/shop/secrets/token' }]);
  assert.deepEqual(c.logConfiguration, { logDriver: 'awslogs', options: { 'awslogs-stream-prefix': 'shop', 'awslogs-group': '/compose/shop' } });
  const env = envOf(c);
  assert.equal(env.GREETING, 'hi');
  assert.equal(env.DB_HOST, 'mine', 'a variable the file sets wins');
  assert.equal(env.DATABASE_HOST, '127.0.0.1', 'the hostname is a name too');
  assert.equal(env.PG_PORT_5432, '41001', 'and so is a network alias');
  assert.equal(env.FRONT_PORT_80, '8080', 'behind the load balancer: the listener port');
  assert.equal(env.FRONT_PORT_9000, '9000');
  assert.equal(env.API_PORT, '41000');
  const front = plans.find((x) => x.service === 'front')!;
  assert.equal(front.desiredCount, 3);
  assert.deepEqual(containerOf(plans, 'front').portMappings, [{ containerPort: 80, hostPort: 0, protocol: 'tcp' }, { containerPort: 9000, hostPort: 9000, protocol: 'tcp' }]);
  assert.deepEqual(front.ports.map((x) => x.loadBalanced), [true, false]);
  assert.equal(containerOf(plans, 'db').memoryReservation, 64, 'no memory given: a reservation ECS accepts');
  assert.equal(plans.find((x) => x.service === 'migrate')!.oneShot, true);
  assert.equal(plans.find((x) => x.service === 'api')!.oneShot, false);
});

test('docker driver: the project network by label, names and container ports in the variables', () => {
  const plans = planProject(project(), inputs('docker'));
  const db = containerOf(plans, 'db');
  assert.deepEqual(db.dockerLabels, { 'berth.network': 'berth-compose-shop', 'berth.network-aliases': 'pg' });
  assert.deepEqual(db.portMappings, [], 'an exposed port is reached on the network');
  assert.equal(db.hostname, 'database');
  const env = envOf(containerOf(plans, 'api'));
  assert.equal(env.DATABASE_HOST, 'database');
  assert.equal(env.PG_PORT_5432, '5432');
  assert.equal(env.FRONT_HOST, 'front');
  assert.equal(env.FRONT_PORT_80, '80');
  // A published http port is the load balancer listener's port on docker too, not the container's.
  const front = plans.find((x) => x.service === 'front')!;
  assert.deepEqual(front.ports.filter((x) => x.loadBalanced).map((x) => [x.target, x.address, x.hostPort]), [[80, 8080, 0]]);
});

test('the hash follows the task definition; names fit ELBv2\'s limits', () => {
  const a = planProject(project(), inputs('process'));
  const b = planProject(project(), inputs('process'));
  assert.deepEqual(a.map((p) => p.hash), b.map((p) => p.hash));
  const p = project();
  p.services.api!.environment.GREETING = 'changed';
  const c = planProject(p, inputs('process'));
  for (const s of ['front', 'db', 'migrate']) assert.equal(c.find((x) => x.service === s)!.hash, a.find((x) => x.service === s)!.hash, `${s} unchanged`);
  assert.notEqual(c.find((x) => x.service === 'api')!.hash, a.find((x) => x.service === 'api')!.hash);
  p.services.front!.replicas = 5;
  assert.equal(planProject(p, inputs('process')).find((x) => x.service === 'front')!.hash, a.find((x) => x.service === 'front')!.hash, 'replicas scale, they do not roll');
  const long = targetGroupName('a-very-long-project-name', 'and-a-long-service', 8080);
  assert.ok(long.length <= 32 && /^[A-Za-z0-9-]+$/.test(long), long);
  assert.equal(targetGroupName('shop', 'front', 80), 'shop-front-80');
});

test('volumes: named volumes become shared docker volumes (autoprovisioned unless external) labelled with the project, binds host volumes, anonymous ones empty task volumes', () => {
  const yaml = 'services:\n  db:\n    image: pg\n    volumes: [data:/var/lib/pg, ./conf:/etc/pg:ro, /scratch, {type: volume, source: ext, target: /ext}]\nvolumes:\n  data: {}\n  ext: {external: true}\n';
  const p = loadProject({ files: ['/v/compose.yaml'], projectName: 'shop', env: {}, readFile: (f) => (f === '/v/compose.yaml' ? yaml : (() => { throw new Error('none'); })()) });
  const plan = planProject(p, inputs('docker'))[0]!;
  assert.deepEqual(plan.taskDefinition.volumes, [
    { name: 'shop_data', dockerVolumeConfiguration: { scope: 'shared', autoprovision: true, driver: 'local', labels: { 'berth.compose-project': 'shop', 'com.docker.compose.project': 'shop', 'com.docker.compose.volume': 'data' } } },
    { name: 'bind-1', host: { sourcePath: '/v/conf' } },
    { name: 'anon-2' },
    { name: 'ext', dockerVolumeConfiguration: { scope: 'shared', autoprovision: false, driver: 'local', labels: {} } },
  ]);
  assert.deepEqual(containerOf([plan], 'db').mountPoints, [
    { sourceVolume: 'shop_data', containerPath: '/var/lib/pg', readOnly: false },
    { sourceVolume: 'bind-1', containerPath: '/etc/pg', readOnly: true },
    { sourceVolume: 'anon-2', containerPath: '/scratch', readOnly: false },
    { sourceVolume: 'ext', containerPath: '/ext', readOnly: false },
  ]);
});

test('configs: read-only host volumes, of the file itself or of the file up writes under .berth/compose/<project>/configs', () => {
  const yaml = 'services:\n  web:\n    image: x\n    configs: [a, {source: b, target: /etc/b}]\nconfigs:\n  a: {file: ./a.conf}\n  b: {content: hello}\n';
  const p = loadProject({ files: ['/v/compose.yaml'], projectName: 'shop', env: {}, readFile: (f) => (f === '/v/compose.yaml' ? yaml : (() => { throw new Error('none'); })()) });
  const plan = planProject(p, inputs('docker'))[0]!;
  assert.deepEqual(plan.taskDefinition.volumes, [{ name: 'config-a', host: { sourcePath: '/v/a.conf' } }, { name: 'config-b', host: { sourcePath: '/v/.berth/compose/shop/configs/b' } }]);
  assert.deepEqual(containerOf([plan], 'web').mountPoints, [{ sourceVolume: 'config-a', containerPath: '/a', readOnly: true }, { sourceVolume: 'config-b', containerPath: '/etc/b', readOnly: true }]);
});

test('ecs-params.yml: task roles, network mode, task size, per-service overrides; the rest reported', async () => {
  const { parseEcsParams } = await import('../../src/cli/compose/ecsParams.js');
  const params = parseEcsParams(
    [
      'version: 1',
      'task_definition:',
      '  task_execution_role: arn:aws:iam::123456789012:role/exec',
      '  ecs_network_mode: host',
      '  task_size: {cpu_limit: 512, mem_limit: 1GB}',
      '  docker_volumes: []',
      '  services:',
      '    api:',
      '      essential: false',
      '      cpu_shares: 100',
      '      mem_limit: 64m',
      '      healthcheck: {test: ["CMD", "true"], interval: 10s, retries: 2}',
      '      secrets: [{value_from: /prod/db-password, name: DB_PASSWORD}]',
      '      gpu: "1"',
      'run_params:',
      '  network_configuration: {}',
    ].join('\n'),
    'ecs-params.yml',
  );
  assert.deepEqual(params.unsupported.sort(), ['run_params', 'task_definition.docker_volumes', 'task_definition.services.api.gpu']);
  const plans = planProject(project(), { ...inputs('process'), ecsParams: params });
  const api = plans.find((x) => x.service === 'api')!;
  assert.equal(api.taskDefinition.executionRoleArn, 'arn:aws:iam::123456789012:role/exec');
  assert.equal(api.taskDefinition.networkMode, 'host');
  assert.equal(api.taskDefinition.cpu, '512');
  assert.equal(api.taskDefinition.memory, '1024');
  const c = containerOf(plans, 'api');
  assert.equal(c.essential, false);
  assert.equal(c.cpu, 100);
  assert.equal(c.memory, 64);
  assert.deepEqual(c.portMappings, [{ containerPort: 3000, hostPort: 3000, protocol: 'tcp' }], 'host mode: host port = container port');
  assert.deepEqual(c.healthCheck, { command: ['CMD', 'true'], interval: 10, timeout: 5, retries: 2, startPeriod: 0 });
  assert.deepEqual(c.secrets, [{ name: 'API_TOKEN', valueFrom: '/compose/shop/secrets/token' }, { name: 'DB_PASSWORD', valueFrom: '/prod/db-password' }]);
  assert.notEqual(api.hash, planProject(project(), inputs('process')).find((x) => x.service === 'api')!.hash, 'a changed ecs-params rolls the service');
  assert.throws(() => parseEcsParams('version: 2\n', 'e.yml'), /version 2 is not supported/);
  assert.throws(() => parseEcsParams('task_definition: {services: {api: {secrets: [{name: X}]}}}\n', 'e.yml'), /need value_from and name/);
});
