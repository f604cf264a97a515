/**
 * What IAM policy evaluation costs a request (issue 17): ECS DescribeClusters of one cluster,
 * one at a time over loopback HTTP with SigV4 and the SQLite store, as root (no evaluation) and
 * as an IAM user whose permissions are 10 attached managed policies of 20 statements each
 * (wildcard actions and resources, conditions; the allow it needs is the last statement of the
 * last policy, so every statement is looked at). Root and user calls are interleaved (alternating which goes first) so the
 * machine's noise hits both alike. Also timed in the same process: the authorizer's decision
 * alone for the same question (what a request pays for evaluation, with the per-principal cache
 * warm). Target: evaluation < 10% of the user's request time.
 *
 *   npx tsc -p . && node dist/bench/iam.js [iterations]
 */
import { interleavedPairs } from './interleaved.js';
import { startBerth } from '../src/berth.js';
import { callJson, type ClientConfig } from '../src/client/awsClient.js';
import { IAMClient, CreateUserCommand, CreatePolicyCommand, AttachUserPolicyCommand, CreateAccessKeyCommand } from '@aws-sdk/client-iam';
import { Authorizer } from '../src/domain/iam/authorizer.js';
import type { CallerPrincipal } from '../src/domain/iam/credentials.js';

const N = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 1000);
const WARMUP = 50;
const POLICIES = 10;
const STATEMENTS = 20;
const ECS = 'AmazonEC2ContainerServiceV20141113';

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

/** Statement j of policy i: none matches ecs:DescribeClusters on cluster/bench except the very last. */
function statement(acct: string, i: number, j: number): object {
  const last = i === POLICIES - 1 && j === STATEMENTS - 1;
  if (last) return { Sid: 'AllowBench', Effect: 'Allow', Action: 'ecs:Describe*', Resource: `arn:aws:ecs:*:${acct}:cluster/bench` };
  switch (j % 4) {
    case 0:
      return { Effect: 'Allow', Action: [`ssm:GetParameter*`, `ssm:PutParameter`], Resource: `arn:aws:ssm:*:${acct}:parameter/app${i}/${j}/*` };
    case 1:
      return { Effect: 'Allow', Action: 'ecs:*', Resource: `arn:aws:ecs:us-east-1:${acct}:cluster/team-${i}-${j}-*` };
    case 2:
      return { Effect: 'Deny', Action: 'logs:DeleteLogGroup', Resource: '*', Condition: { StringNotEquals: { 'aws:PrincipalTag/team': `t${i}` } } };
    default:
      return { Effect: 'Allow', NotAction: ['iam:*', 'sts:*'], Resource: `arn:aws:elasticloadbalancing:*:${acct}:loadbalancer/app/lb-${i}-${j}/*`, Condition: { IpAddress: { 'aws:SourceIp': ['10.0.0.0/8', '192.168.0.0/16'] } } };
  }
}

async function main(): Promise<void> {
  const berth = await startBerth({ ephemeral: true, port: 0, env: {} });
  const acct = berth.credentials.accountId;
  const root: ClientConfig = { endpoint: berth.url, region: 'us-east-1', accessKeyId: berth.credentials.accessKeyId, secretAccessKey: berth.credentials.secretAccessKey };
  try {
    await callJson(root, 'ecs', `${ECS}.CreateCluster`, { clusterName: 'bench' });
    const iam = new IAMClient({ endpoint: berth.url, region: 'us-east-1', credentials: { accessKeyId: root.accessKeyId, secretAccessKey: root.secretAccessKey } });
    await iam.send(new CreateUserCommand({ UserName: 'bench' }));
    for (let i = 0; i < POLICIES; i++) {
      const doc = JSON.stringify({ Version: '2012-10-17', Statement: Array.from({ length: STATEMENTS }, (_, j) => statement(acct, i, j)) });
      const p = await iam.send(new CreatePolicyCommand({ PolicyName: `bench-${i}`, PolicyDocument: doc }));
      await iam.send(new AttachUserPolicyCommand({ UserName: 'bench', PolicyArn: p.Policy!.Arn! }));
    }
    const key = (await iam.send(new CreateAccessKeyCommand({ UserName: 'bench' }))).AccessKey!;
    const user: ClientConfig = { ...root, accessKeyId: key.AccessKeyId!, secretAccessKey: key.SecretAccessKey! };

    const describe = async (cfg: ClientConfig) => {
      const t0 = performance.now();
      const out = await callJson<{ clusters?: unknown[]; failures?: unknown[] }>(cfg, 'ecs', `${ECS}.DescribeClusters`, { clusters: ['bench'] });
      const ms = performance.now() - t0;
      if (out.clusters?.length !== 1) throw new Error(`DescribeClusters answered ${JSON.stringify(out).slice(0, 300)}`);
      return ms;
    };
    // The user is really evaluated: another cluster is denied.
    const denied = await callJson(user, 'ecs', `${ECS}.DescribeClusters`, { clusters: ['other'] }).then(
      () => 'allowed',
      (e: Error) => e.name,
    );
    if (denied !== 'AccessDeniedException') throw new Error(`the user should be denied another cluster, got ${denied}`);

    const { peer: asRoot, subject: asUser } = await interleavedPairs(() => describe(root), () => describe(user), WARMUP, N);

    // The decision alone, on an authorizer of its own over the same store (its cache warm after the first).
    const authorizer = new Authorizer(berth.platform);
    await authorizer.start();
    const principal: CallerPrincipal = { kind: 'user', arn: `arn:aws:iam::${acct}:user/bench`, accountId: acct, userId: 'AIDABENCH', accessKeyId: key.AccessKeyId!, userName: 'bench' };
    const question = { action: 'ecs:DescribeClusters', resource: `arn:aws:ecs:us-east-1:${acct}:cluster/bench`, keys: { 'aws:sourceip': ['127.0.0.1'], 'aws:securetransport': ['false'], 'aws:requestedregion': ['us-east-1'], 'aws:currenttime': [new Date().toISOString()] } };
    const cold0 = performance.now();
    await authorizer.check(principal, question);
    const cold = performance.now() - cold0;
    const decisions: number[] = [];
    for (let k = 0; k < WARMUP + N * 5; k++) {
      const t0 = performance.now();
      await authorizer.check(principal, question);
      if (k >= WARMUP) decisions.push(performance.now() - t0);
    }
    authorizer.stop();

    const f = (x: number) => x.toFixed(3).padStart(8);
    console.log(`DescribeClusters over HTTP, ${N} each, interleaved; user has ${POLICIES} policies x ${STATEMENTS} statements`);
    console.log(`                      p50 ms   p90 ms   p99 ms`);
    console.log(`  as root          ${f(pct(asRoot, 50))} ${f(pct(asRoot, 90))} ${f(pct(asRoot, 99))}`);
    console.log(`  as IAM user      ${f(pct(asUser, 50))} ${f(pct(asUser, 90))} ${f(pct(asUser, 99))}`);
    console.log(`  decision alone   ${f(pct(decisions, 50))} ${f(pct(decisions, 90))} ${f(pct(decisions, 99))}   (first, cache cold: ${cold.toFixed(3)} ms)`);
    const overhead = pct(asUser, 50) - pct(asRoot, 50);
    const share = pct(decisions, 50) / pct(asUser, 50);
    console.log(`user / root at p50: ${(pct(asUser, 50) / pct(asRoot, 50)).toFixed(3)}x (difference ${overhead.toFixed(3)} ms, noise included)`);
    console.log(`evaluation share of the user's request at p50: ${(share * 100).toFixed(2)}% (target < 10%: ${share < 0.1 ? 'met' : 'NOT met'})`);
  } finally {
    await berth.close();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
