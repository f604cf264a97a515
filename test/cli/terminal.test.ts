// What a person sees in a real terminal (tmux, 200x50): `berth deploy` redraws its status lines
// in place (never one copy per poll), shows a running clock, and ends on the final state with
// the result line and no escape-sequence garbage; `berth logs -f` prints the lines and gives the
// prompt back once the task stops; Ctrl-C in `berth run` stops the task and waits for it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ECSClient, RegisterTaskDefinitionCommand, CreateServiceCommand, DescribeServicesCommand } from '@aws-sdk/client-ecs';
import { ElasticLoadBalancingV2Client, CreateLoadBalancerCommand, CreateListenerCommand, ModifyTargetGroupAttributesCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { eventually } from '../helpers/fixture.js';
import { createTestTargetGroup, TASK_TARGET_HEALTH, freePort } from '../lb/backends.js';
import { BERTH_COMMAND, berth, hasTmux, startCliBerth, TmuxSession, type CliBerth } from './helpers.js';

const skip = hasTmux() ? false : 'tmux is not installed: the terminal tests need a real terminal';
const WEB_JS = "require('http').createServer((q,s)=>s.end(process.env.VERSION)).listen(process.env.PORT)";
/** What a terminal would show if control sequences leaked through as text. */
const GARBAGE = /\u001b|\[\d*[ABCDGJK]|\[\?25[hl]|\[\d+(;\d+)*m/;

let cb: CliBerth;
let ecs: ECSClient;
let elb: ElasticLoadBalancingV2Client;
const sessions: TmuxSession[] = [];

before(async () => {
  if (skip) return;
  cb = await startCliBerth();
  ecs = new ECSClient(cb.berth.clientConfig);
  elb = new ElasticLoadBalancingV2Client(cb.berth.clientConfig);
});
after(async () => {
  for (const s of sessions) s.close();
  if (skip) return;
  ecs.destroy();
  elb.destroy();
  await cb.close();
});

function session(): TmuxSession {
  const s = new TmuxSession(cb.env);
  sessions.push(s);
  return s;
}

test('berth deploy in a terminal: status lines redrawn in place, a clock, then the final state and the result', { skip }, async () => {
  const lb = (await elb.send(new CreateLoadBalancerCommand({ Name: 'tty', Subnets: ['subnet-a', 'subnet-b'] }))).LoadBalancers![0]!.LoadBalancerArn!;
  const tg = await createTestTargetGroup(elb, 'tty-web', { HealthCheckPath: '/', ...TASK_TARGET_HEALTH });
  await elb.send(new ModifyTargetGroupAttributesCommand({ TargetGroupArn: tg, Attributes: [{ Key: 'deregistration_delay.timeout_seconds', Value: '1' }] }));
  await elb.send(new CreateListenerCommand({ LoadBalancerArn: lb, Protocol: 'HTTP', Port: await freePort(), DefaultActions: [{ Type: 'forward', TargetGroupArn: tg }] }));
  await ecs.send(
    new RegisterTaskDefinitionCommand({
      family: 'web',
      containerDefinitions: [{ name: 'web', image: 'host', memory: 32, portMappings: [{ containerPort: 8080, hostPort: 0 }], command: [process.execPath, '-e', WEB_JS], environment: [{ name: 'VERSION', value: 'v1' }] }],
    }),
  );
  await ecs.send(new CreateServiceCommand({ cluster: 'default', serviceName: 'web', taskDefinition: 'web', desiredCount: 2, loadBalancers: [{ targetGroupArn: tg, containerName: 'web', containerPort: 8080 }] }));
  await eventually(async () => (await ecs.send(new DescribeServicesCommand({ cluster: 'default', services: ['web'] }))).services![0]!.deployments![0]!.rolloutState === 'COMPLETED', {
    what: 'web:1 steady',
    timeoutMs: 30_000,
  });

  const tty = session();
  tty.type(`${BERTH_COMMAND} deploy web --env VERSION=v2; echo EXIT=$?`);
  // Watch the screen while the deployment rolls out.
  const screens: string[] = [];
  await eventually(
    () => {
      const s = tty.screen();
      screens.push(s);
      return /EXIT=\d+/.test(s);
    },
    { timeoutMs: 60_000, intervalMs: 100, what: 'berth deploy to finish' },
  );
  const final = screens[screens.length - 1]!;
  assert.match(final, /EXIT=0\n/, final);
  for (const s of screens) {
    const copies = s.split('\n').filter((l) => /^ {2}web:2 \(new\) /.test(l)).length;
    assert.ok(copies <= 1, `the status line is redrawn in place, not repeated (${copies} copies):\n${s}`);
    assert.doesNotMatch(s, GARBAGE, `no escape-sequence garbage:\n${s}`);
  }
  const during = screens.filter((s) => /^ {2}web:2 \(new\) +IN_PROGRESS /m.test(s));
  assert.ok(during.length >= 1, 'the rollout was seen in progress');
  assert.ok(during.some((s) => /^ {2}\d+s$/m.test(s)), 'a clock line while it runs');
  // The final state: one status block, COMPLETED, the old tasks stopped, then the result line and the prompt.
  assert.match(final, /\n {2}web:2 \(new\) +COMPLETED +2\/2 running · 2\/2 healthy in tty-web\n {2}web:1 \(old\) +0 running · 0 draining · 2 stopped\n✔ web: deployment ecs-svc\/\d+ completed in \d+s: web:2, 2 tasks running\nEXIT=0\n\$ ?\n?$/);
  assert.doesNotMatch(final, /^ {2}\d+s$/m, 'no clock once it is over');
  assert.match(final, /^\d\d:\d\d:\d\d {2}has begun draining connections on \d tasks\.$/m, 'the events above the status lines');
});

test('berth logs -f in a terminal: the lines, then the stop, then the prompt back', { skip }, async () => {
  await ecs.send(
    new RegisterTaskDefinitionCommand({ family: 'count', containerDefinitions: [{ name: 'main', image: 'host', memory: 32, command: ['sh', '-c', 'for i in 1 2 3; do echo "tick $i"; sleep 0.5; done; exit 2'] }] }),
  );
  const id = (await berth(['run', 'count', '--detach'], cb.env)).stdout.trim();
  assert.match(id, /^[0-9a-f]{32}$/);
  const tty = session();
  tty.type(`${BERTH_COMMAND} logs -f ${id}; echo EXIT=$?`);
  const screen = await tty.waitFor(/EXIT=\d+\n\$/);
  assert.match(screen, new RegExp(`tick 1\\ntick 2\\ntick 3\\nberth: task ${id} has stopped: Essential container in task exited \\(main exited 2\\)\\nEXIT=0\\n`));
  assert.doesNotMatch(screen, GARBAGE);
});

test('Ctrl-C in berth run stops the task, shows its last words, and returns its status', { skip }, async () => {
  await ecs.send(
    new RegisterTaskDefinitionCommand({ family: 'waiter', containerDefinitions: [{ name: 'main', image: 'host', memory: 32, command: ['sh', '-c', 'trap "echo stopping politely; exit 0" TERM; echo waiting; while true; do sleep 0.2; done'] }] }),
  );
  const tty = session();
  tty.type(`${BERTH_COMMAND} run waiter; echo EXIT=$?`);
  await tty.waitFor(/^waiting$/m);
  tty.keys('C-c');
  const screen = await tty.waitFor(/EXIT=\d+\n\$/);
  assert.match(screen, /berth: stopping the task \(Ctrl-C again to leave it running\)\n/);
  assert.match(screen, /stopping politely\nEXIT=0\n/);
  assert.doesNotMatch(screen, GARBAGE);
});
