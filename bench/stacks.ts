/**
 * CloudFormation benchmark: create and delete one stack of N mostly independent resources
 * (default 200: SSM parameters and CloudWatch Logs log groups, a few parameters reading a log
 * group's ARN) on a real Berth over HTTP, against the same resources created and deleted by a
 * client making one API call after the other (PutParameter / CreateLogGroup, then
 * DeleteParameter / DeleteLogGroup) in the same run. Prints both times and the ratio; target:
 * the stack at least 3x faster than the sequential calls. The two alternate for `--rounds`
 * rounds so load from elsewhere on a shared machine falls on both alike; medians are printed.
 *
 *   npx tsc -p . && node dist/bench/stacks.js [--resources 200] [--rounds 3]
 */
import { CloudFormationClient, CreateStackCommand, DeleteStackCommand, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { CloudWatchLogsClient, CreateLogGroupCommand, DeleteLogGroupCommand } from '@aws-sdk/client-cloudwatch-logs';
import { SSMClient, DeleteParameterCommand, PutParameterCommand } from '@aws-sdk/client-ssm';
import { startBerth } from '../src/berth.js';

const args = process.argv.slice(2);
const opt = (name: string, def: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const RESOURCES = opt('resources', 200);
const ROUNDS = opt('rounds', 3);

/** The stack's resources: half log groups, half parameters (every tenth reads a group's ARN). */
function template(round: number): string {
  const resources: Record<string, unknown> = {};
  const groups = Math.floor(RESOURCES / 2);
  for (let i = 0; i < groups; i++) resources[`Group${i}`] = { Type: 'AWS::Logs::LogGroup', Properties: { LogGroupName: `/bench/stack-${round}/g${i}` } };
  for (let i = 0; i < RESOURCES - groups; i++) {
    const value = i % 10 === 0 ? { 'Fn::GetAtt': [`Group${i % groups}`, 'Arn'] } : `value-${i}`;
    resources[`Param${i}`] = { Type: 'AWS::SSM::Parameter', Properties: { Name: `/bench/stack-${round}/p${i}`, Type: 'String', Value: value } };
  }
  return JSON.stringify({ Resources: resources });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const berth = await startBerth({ port: 0, ephemeral: true, env: {} });
  const config = { endpoint: berth.url, region: 'us-east-1', credentials: { accessKeyId: berth.credentials.accessKeyId, secretAccessKey: berth.credentials.secretAccessKey }, maxAttempts: 1 };
  const cfn = new CloudFormationClient(config);
  const ssm = new SSMClient(config);
  const logs = new CloudWatchLogsClient(config);

  /** Polls the stack (every 10 ms) until it is no longer in progress; its status, or undefined once gone. */
  async function settle(name: string): Promise<string | undefined> {
    for (;;) {
      const s = await cfn.send(new DescribeStacksCommand({ StackName: name })).then(
        (o) => o.Stacks![0]!.StackStatus,
        (e) => (/does not exist/.test(e.message) ? undefined : Promise.reject(e)),
      );
      if (!s || !s.endsWith('_IN_PROGRESS')) return s;
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  async function stack(round: number): Promise<{ create: number; remove: number }> {
    const name = `bench-${round}`;
    const t0 = performance.now();
    await cfn.send(new CreateStackCommand({ StackName: name, TemplateBody: template(round) }));
    const status = await settle(name);
    if (status !== 'CREATE_COMPLETE') throw new Error(`stack ${name}: ${status}`);
    const t1 = performance.now();
    await cfn.send(new DeleteStackCommand({ StackName: name }));
    const gone = await settle(name);
    if (gone !== undefined) throw new Error(`stack ${name} not deleted: ${gone}`);
    return { create: t1 - t0, remove: performance.now() - t1 };
  }

  async function sequential(round: number): Promise<{ create: number; remove: number }> {
    const groups = Math.floor(RESOURCES / 2);
    const prefix = `/bench/seq-${round}`;
    const t0 = performance.now();
    for (let i = 0; i < groups; i++) await logs.send(new CreateLogGroupCommand({ logGroupName: `${prefix}/g${i}` }));
    for (let i = 0; i < RESOURCES - groups; i++) await ssm.send(new PutParameterCommand({ Name: `${prefix}/p${i}`, Type: 'String', Value: `value-${i}` }));
    const t1 = performance.now();
    for (let i = 0; i < RESOURCES - groups; i++) await ssm.send(new DeleteParameterCommand({ Name: `${prefix}/p${i}` }));
    for (let i = 0; i < groups; i++) await logs.send(new DeleteLogGroupCommand({ logGroupName: `${prefix}/g${i}` }));
    return { create: t1 - t0, remove: performance.now() - t1 };
  }

  const stackRuns: Array<{ create: number; remove: number }> = [];
  const seqRuns: Array<{ create: number; remove: number }> = [];
  await sequential(-1); // warm-up: connections, JIT, SQLite pages
  await stack(-1);
  for (let round = 0; round < ROUNDS; round++) {
    seqRuns.push(await sequential(round));
    stackRuns.push(await stack(round));
    const s = stackRuns.at(-1)!;
    const q = seqRuns.at(-1)!;
    console.log(`round ${round + 1}: stack create ${s.create.toFixed(0)} ms, delete ${s.remove.toFixed(0)} ms | sequential create ${q.create.toFixed(0)} ms, delete ${q.remove.toFixed(0)} ms`);
  }
  const sc = median(stackRuns.map((r) => r.create));
  const sd = median(stackRuns.map((r) => r.remove));
  const qc = median(seqRuns.map((r) => r.create));
  const qd = median(seqRuns.map((r) => r.remove));
  console.log(`\n${RESOURCES} resources, median of ${ROUNDS} rounds:`);
  console.log(`  stack (CloudFormation, parallel)    create ${sc.toFixed(0)} ms   delete ${sd.toFixed(0)} ms   total ${(sc + sd).toFixed(0)} ms`);
  console.log(`  sequential API calls (one client)   create ${qc.toFixed(0)} ms   delete ${qd.toFixed(0)} ms   total ${(qc + qd).toFixed(0)} ms`);
  const ratio = (qc + qd) / (sc + sd);
  console.log(`  ratio sequential/stack: create ${(qc / sc).toFixed(2)}x, delete ${(qd / sd).toFixed(2)}x, total ${ratio.toFixed(2)}x (target >= 3x): ${ratio >= 3 ? 'met' : 'NOT met'}`);
  for (const c of [cfn, ssm, logs]) c.destroy();
  await berth.close();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
