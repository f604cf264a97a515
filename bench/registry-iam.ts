/**
 * What IAM authorization costs a registry pull request (issue 17): `GET /v2/<name>/manifests/v1`
 * over loopback HTTP (keep-alive fetch, SQLite store), one at a time, with root's password (no
 * evaluation) and with the password of an IAM user whose permissions are 10 attached managed
 * policies of 20 statements each (the allow it needs, ecr:BatchGetImage on the repository, is the
 * last statement of the last policy) while the repository has a policy of its own. Root and user
 * requests are interleaved, alternating which goes first, so the machine's noise hits both alike.
 * Target: the user's request within 1.10x of root's at p50.
 *
 *   npx tsc -p . && node dist/bench/registry-iam.js [iterations]
 */
import { interleavedPairs } from './interleaved.js';
import { startBerth } from '../src/berth.js';
import { callJson, type ClientConfig } from '../src/client/awsClient.js';
import { IAMClient, CreateUserCommand, CreatePolicyCommand, AttachUserPolicyCommand, CreateAccessKeyCommand } from '@aws-sdk/client-iam';
import { createHash } from 'node:crypto';

const N = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 1000);
const WARMUP = 50;
const POLICIES = 10;
const STATEMENTS = 20;
const ECR = 'AmazonEC2ContainerRegistry_V20150921';
const REPO = 'bench/app';

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

/** Statement j of policy i: none allows ecr:BatchGetImage on the bench repository except the very last. */
function statement(acct: string, i: number, j: number): object {
  if (i === POLICIES - 1 && j === STATEMENTS - 1) return { Effect: 'Allow', Action: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'], Resource: `arn:aws:ecr:*:${acct}:repository/${REPO}` };
  if (i === 0 && j === 0) return { Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' };
  switch (j % 3) {
    case 0:
      return { Effect: 'Allow', Action: 'ecr:*', Resource: `arn:aws:ecr:us-east-1:${acct}:repository/team-${i}-${j}/*` };
    case 1:
      return { Effect: 'Deny', Action: 'ecr:Put*', Resource: '*', Condition: { StringNotEquals: { 'aws:PrincipalTag/team': `t${i}` } } };
    default:
      return { Effect: 'Allow', NotAction: ['iam:*', 'sts:*'], Resource: `arn:aws:ecr:*:${acct}:repository/other-${i}-${j}`, Condition: { IpAddress: { 'aws:SourceIp': ['10.0.0.0/8', '192.168.0.0/16'] } } };
  }
}

const digestOf = (b: string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function main(): Promise<void> {
  const berth = await startBerth({ ephemeral: true, port: 0, env: {} });
  const acct = berth.credentials.accountId;
  const root: ClientConfig = { endpoint: berth.url, region: 'us-east-1', accessKeyId: berth.credentials.accessKeyId, secretAccessKey: berth.credentials.secretAccessKey };
  const password = async (cfg: ClientConfig) => `Basic ${(await callJson<{ authorizationData: Array<{ authorizationToken: string }> }>(cfg, 'ecr', `${ECR}.GetAuthorizationToken`, {})).authorizationData[0]!.authorizationToken}`;
  try {
    await callJson(root, 'ecr', `${ECR}.CreateRepository`, { repositoryName: REPO });
    await callJson(root, 'ecr', `${ECR}.SetRepositoryPolicy`, { repositoryName: REPO, policyText: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Deny', Principal: { AWS: `arn:aws:iam::${acct}:user/nobody` }, Action: 'ecr:*' }] }) });
    const rootAuth = await password(root);
    const config = JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } });
    const layer = 'bench layer';
    for (const blob of [config, layer]) {
      const r = await fetch(`${berth.url}/v2/${REPO}/blobs/uploads/?digest=${digestOf(blob)}`, { method: 'POST', headers: { authorization: rootAuth }, body: blob });
      if (r.status !== 201) throw new Error(`blob push: ${r.status} ${await r.text()}`);
    }
    const manifest = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.docker.distribution.manifest.v2+json', config: { mediaType: 'application/vnd.docker.container.image.v1+json', digest: digestOf(config), size: config.length }, layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', digest: digestOf(layer), size: layer.length }] });
    const put = await fetch(`${berth.url}/v2/${REPO}/manifests/v1`, { method: 'PUT', headers: { authorization: rootAuth, 'content-type': 'application/vnd.docker.distribution.manifest.v2+json' }, body: manifest });
    if (put.status !== 201) throw new Error(`manifest push: ${put.status} ${await put.text()}`);

    const iam = new IAMClient({ endpoint: berth.url, region: 'us-east-1', credentials: { accessKeyId: root.accessKeyId, secretAccessKey: root.secretAccessKey } });
    await iam.send(new CreateUserCommand({ UserName: 'bench' }));
    for (let i = 0; i < POLICIES; i++) {
      const doc = JSON.stringify({ Version: '2012-10-17', Statement: Array.from({ length: STATEMENTS }, (_, j) => statement(acct, i, j)) });
      const p = await iam.send(new CreatePolicyCommand({ PolicyName: `bench-${i}`, PolicyDocument: doc }));
      await iam.send(new AttachUserPolicyCommand({ UserName: 'bench', PolicyArn: p.Policy!.Arn! }));
    }
    const key = (await iam.send(new CreateAccessKeyCommand({ UserName: 'bench' }))).AccessKey!;
    iam.destroy();
    const userAuth = await password({ ...root, accessKeyId: key.AccessKeyId!, secretAccessKey: key.SecretAccessKey! });

    const pull = async (auth: string, path = `/v2/${REPO}/manifests/v1`, want = 200) => {
      const t0 = performance.now();
      const r = await fetch(berth.url + path, { headers: { authorization: auth, accept: 'application/vnd.docker.distribution.manifest.v2+json' } });
      await r.arrayBuffer();
      const ms = performance.now() - t0;
      if (r.status !== want) throw new Error(`GET ${path} answered ${r.status}, expected ${want}`);
      return ms;
    };
    // The user is really evaluated: pushing is denied.
    const denied = await fetch(`${berth.url}/v2/${REPO}/blobs/uploads/`, { method: 'POST', headers: { authorization: userAuth } });
    if (denied.status !== 403) throw new Error(`the user should be denied pushing, got ${denied.status}`);

    const { peer: asRoot, subject: asUser } = await interleavedPairs(() => pull(rootAuth), () => pull(userAuth), WARMUP, N);
    const f = (x: number) => x.toFixed(3).padStart(8);
    console.log(`GET /v2/${REPO}/manifests/v1 over HTTP, ${N} each, interleaved; user has ${POLICIES} policies x ${STATEMENTS} statements, the repository a policy`);
    console.log(`                      p50 ms   p90 ms   p99 ms`);
    console.log(`  root's password  ${f(pct(asRoot, 50))} ${f(pct(asRoot, 90))} ${f(pct(asRoot, 99))}`);
    console.log(`  user's password  ${f(pct(asUser, 50))} ${f(pct(asUser, 90))} ${f(pct(asUser, 99))}`);
    const ratio = pct(asUser, 50) / pct(asRoot, 50);
    console.log(`user / root at p50: ${ratio.toFixed(3)}x (target <= 1.10x: ${ratio <= 1.1 ? 'met' : 'NOT met'})`);
  } finally {
    await berth.close();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
