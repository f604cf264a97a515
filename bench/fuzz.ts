/**
 * The long fuzz run of issue 12: at least 10,000 generated requests per protocol (the load
 * balancer's HTTP parser, awsJson, awsQuery, the agent channel) against a real Berth, with the
 * generators and judgement of test/helpers/fuzz.ts. Prints inputs tried, 2xx, 4xx, 5xx,
 * closed connections, crashes, hangs, state changes from refused requests and malformed
 * errors per protocol, with examples of any finding.
 *
 *   node dist/bench/fuzz.js [--cases 10000] [--seed 1]
 *
 * Target: 0 crashes, 0 hangs, 0 5xx for client mistakes, 0 state changes from refused requests.
 */
import { startTestBerth } from '../test/helpers/fixture.js';
import { clean, formatReports, fuzzApi, fuzzHttp, prepareFuzzTarget, type FuzzReport } from '../test/helpers/fuzz.js';

const args = process.argv.slice(2);
const opt = (name: string, def: number) => (args.includes(`--${name}`) ? Number(args[args.indexOf(`--${name}`) + 1]) : def);
const CASES = opt('cases', 10_000);
const SEED = opt('seed', 1);

async function main(): Promise<void> {
  const berth = await startTestBerth({ controller: { enabled: false }, agentTimeoutMs: 3_600_000 });
  const target = await prepareFuzzTarget(berth);
  const reports: FuzzReport[] = [];
  const started = Date.now();
  try {
    // The load balancer first: the API cases may delete its listener (its ARN is a known value).
    reports.push(await fuzzHttp({ berth, port: target.lbPort, cases: CASES, seed: SEED }));
    reports.push(await fuzzApi({ berth, services: ['ecs', 'logs', 'ssm'], protocol: 'awsJson', cases: CASES, seed: SEED + 1, known: target.known }));
    reports.push(await fuzzApi({ berth, services: ['elbv2', 'sts'], protocol: 'awsQuery', cases: CASES, seed: SEED + 2, known: target.known }));
    const adjust = (op: string, input: Record<string, unknown>) => {
      if (op === 'Poll' && typeof input.waitSeconds === 'number' && input.waitSeconds > 1) input.waitSeconds = 1;
    };
    reports.push(await fuzzApi({ berth, services: ['berthagent'], protocol: 'agent channel', cases: CASES, seed: SEED + 3, known: target.known, adjust }));
  } finally {
    await target.close();
    await berth.close();
  }
  process.stdout.write(`fuzz, seed ${SEED}, ${CASES} cases per protocol, ${((Date.now() - started) / 1000).toFixed(0)} s\n${formatReports(reports)}\n`);
  for (const r of reports) if (r.examples.length) process.stdout.write(`\n${r.protocol} examples:\n  ${r.examples.join('\n  ')}\n`);
  const ok = reports.every(clean);
  process.stdout.write(`\ntarget (0 crashes, 0 hangs, 0 5xx, 0 state changes from refused requests): ${ok ? 'MET' : 'NOT MET'}\n`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
