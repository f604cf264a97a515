// The fuzz suite with a fixed seed (issue 12): requests generated from the services' models and
// then broken, signed and sent to a real Berth, one protocol at a time, plus raw bytes at the
// load balancer's listener. Every refused request must be a well-formed 4xx that changed
// nothing; nothing may crash, hang or answer 5xx. The longer run is bench/fuzz.ts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestBerth, type TestBerth } from '../helpers/fixture.js';
import { fuzzApi, fuzzHttp, clean, formatReports, prepareFuzzTarget, type FuzzReport, type FuzzTarget } from '../helpers/fuzz.js';

const SEED = 20261202;
const CASES = Number(process.env.BERTH_FUZZ_CASES ?? 700);

let berth: TestBerth;
let target: FuzzTarget;
const reports: FuzzReport[] = [];

before(async () => {
  // No service controller: state may change only by the requests themselves.
  berth = await startTestBerth({ controller: { enabled: false }, agentTimeoutMs: 3_600_000 });
  target = await prepareFuzzTarget(berth);
});

after(async () => {
  if (reports.length) process.stdout.write(`# fuzz, seed ${SEED}:\n${formatReports(reports).replace(/^/gm, '#   ')}\n`);
  await berth?.close();
  await target?.close();
});

function check(r: FuzzReport): void {
  reports.push(r);
  assert.equal(r.tried, CASES);
  assert.ok(r.client4xx > CASES / 10, `most broken requests are refused: ${r.client4xx} 4xx of ${r.tried}`);
  assert.ok(clean(r), `${formatReports([r])}\n${r.examples.join('\n')}`);
}

// First, while the listener is as set up (the API cases below may delete it: its ARN is a known value).
test("the load balancer's HTTP parser: mangled requests never get a 5xx from the load balancer, never hang it", async () => {
  const r = await fuzzHttp({ berth, port: target.lbPort, cases: CASES, seed: SEED + 3 });
  reports.push(r);
  assert.equal(r.tried, CASES);
  assert.ok(r.ok2xx > CASES / 20 && r.client4xx > CASES / 20, `both forwarded and refused requests: ${formatReports([r])}`);
  assert.ok(clean(r), `${formatReports([r])}\n${r.examples.join('\n')}`);
});

test('awsJson (ECS, CloudWatch Logs, SSM): generated and broken requests get well-formed 4xx, change nothing, never 5xx', async () => {
  check(await fuzzApi({ berth, services: ['ecs', 'logs', 'ssm'], protocol: 'awsJson', cases: CASES, seed: SEED, known: target.known }));
});

test('awsQuery (ELBv2, STS): the same', async () => {
  check(await fuzzApi({ berth, services: ['elbv2', 'sts'], protocol: 'awsQuery', cases: CASES, seed: SEED + 1, known: target.known }));
});

test('EC2 (its own query protocol): the same', async () => {
  check(await fuzzApi({ berth, services: ['ec2'], protocol: 'ec2', cases: CASES, seed: SEED + 4, known: target.known }));
});

test('the agent channel (Poll, ReportTaskState): the same', async () => {
  // Long polls kept to a second at most, so the cases do not wait on them.
  const adjust = (op: string, input: Record<string, unknown>) => {
    if (op === 'Poll' && typeof input.waitSeconds === 'number' && input.waitSeconds > 1) input.waitSeconds = 1;
  };
  check(await fuzzApi({ berth, services: ['berthagent'], protocol: 'agent channel', cases: CASES, seed: SEED + 2, known: target.known, adjust }));
});
