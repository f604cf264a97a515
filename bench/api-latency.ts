/**
 * Per-request cost of the control plane's task-launch path, server side: an in-process Berth
 * (ephemeral SQLite, HTTP on loopback, SigV4) and Berth's own signed client (src/client), one
 * registered container instance, no agent. Each of N iterations (one at a time, after a warm-up):
 *  - a BerthAgentV1.Poll is left waiting with the instance's current fingerprint;
 *  - RunTask (count 1) is sent: its round trip is "RunTask", and the time from sending it to the
 *    waiting Poll's answer arriving is "RunTask -> Poll answered" (includes RunTask's commit,
 *    the poll's wake-up and its response building);
 *  - ReportTaskState RUNNING (as the agent reports it), then DescribeTasks of the task;
 *  - an immediate Poll (waitSeconds 0) to measure response building without the wait;
 *  - ReportTaskState STOPPED, so tasks do not pile up live on the instance (stopped ones stay
 *    in the store for an hour, as in the end-to-end bench).
 * Floor, measured in the same run: an empty POST round trip with the same client (fetch) to a
 * bare node:http server on loopback, and a signed call to an unknown target (SigV4 + gateway,
 * no handler).
 *
 *   npx tsc -p . && node dist/bench/api-latency.js [iterations]
 */
import { Agent as HttpAgent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startBerth } from '../src/berth.js';
import { callJson, type ClientConfig } from '../src/client/awsClient.js';

const N = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 300);
const WARMUP = 30;
const ECS = 'AmazonEC2ContainerServiceV20141113';
const AGENT = 'BerthAgentV1';

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

const results = new Map<string, number[]>();
function record(name: string, ms: number, counted: boolean): void {
  if (!counted) return;
  const a = results.get(name) ?? [];
  a.push(ms);
  results.set(name, a);
}

let current = '';
async function timed<T>(name: string, counted: boolean, fn: () => Promise<T>): Promise<T> {
  current = name;
  const t0 = performance.now();
  const out = await fn();
  record(name, performance.now() - t0, counted);
  return out;
}

const keepAlive = new HttpAgent({ keepAlive: true });
function postRaw(url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent: keepAlive, headers: { 'content-type': 'application/x-amz-json-1.1', 'content-length': 2 } }, (res) => {
      res.resume();
      res.on('end', () => resolve());
    });
    req.on('error', reject);
    req.end('{}');
  });
}

async function main(): Promise<void> {
  // Floor 1: a bare HTTP server answering an empty JSON body.
  const bare = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1', 'content-length': 2 });
      res.end('{}');
    });
  });
  await new Promise<void>((r) => bare.listen(0, '127.0.0.1', () => r()));
  const bareUrl = `http://127.0.0.1:${(bare.address() as AddressInfo).port}/`;

  const berth = await startBerth({ ephemeral: true, port: 0 });
  // For context: how long the store's durable commits take (the fsync every write request pays).
  const store = berth.platform.store;
  const commit = store.commit.bind(store);
  let counting = false;
  store.commit = async (writes) => {
    const t0 = performance.now();
    try {
      return await commit(writes);
    } finally {
      record(`store.commit during ${current}`, performance.now() - t0, counting);
    }
  };
  const cfg: ClientConfig = { endpoint: berth.url, region: berth.platform.defaultRegion, accessKeyId: berth.credentials.accessKeyId, secretAccessKey: berth.credentials.secretAccessKey };
  const ecs = <T = Record<string, unknown>>(op: string, input: unknown) => callJson<T>(cfg, 'ecs', `${ECS}.${op}`, input);
  const agent = <T = Record<string, unknown>>(op: string, input: unknown) => callJson<T>(cfg, 'ecs', `${AGENT}.${op}`, input);
  try {
    const cluster = 'bench';
    await ecs('CreateCluster', { clusterName: cluster });
    await ecs('RegisterTaskDefinition', {
      family: 'bench',
      containerDefinitions: [{ name: 'app', image: 'host', essential: true, memory: 16, entryPoint: ['/bin/sh', '-c', 'exec sleep 600'] }],
    });
    const reg = await ecs<{ containerInstance: { containerInstanceArn: string } }>('RegisterContainerInstance', {
      cluster,
      totalResources: [
        { name: 'CPU', type: 'INTEGER', integerValue: 4096 },
        { name: 'MEMORY', type: 'INTEGER', integerValue: 8192 },
        { name: 'PORTS', type: 'STRINGSET', stringSetValue: ['22'] },
        { name: 'PORTS_UDP', type: 'STRINGSET', stringSetValue: [] },
      ],
      attributes: [{ name: 'ecs.capability.berth.driver', value: 'process' }],
      versionInfo: { agentVersion: 'bench', agentHash: 'berth', dockerVersion: 'process' },
    });
    const ci = reg.containerInstance.containerInstanceArn;
    type PollOut = { fingerprint: string; tasks: Array<{ taskArn: string; lastStatus: string }> };
    let fp = (await agent<PollOut>('Poll', { cluster, containerInstanceArn: ci, waitSeconds: 0 })).fingerprint;

    for (let i = 0; i < WARMUP + N; i++) {
      const counted = i >= WARMUP;
      counting = counted;
      await timed('empty HTTP round trip (fetch client)', counted, async () => {
        const r = await fetch(bareUrl, { method: 'POST', body: '{}' });
        await r.text();
      });
      await timed('empty HTTP round trip (node:http client)', counted, () => postRaw(bareUrl));
      await timed('signed unknown op (SigV4 + gateway)', counted, () => agent('NoSuchOperation', {}).catch(() => undefined));

      const poll = agent<PollOut>('Poll', { cluster, containerInstanceArn: ci, fingerprint: fp, waitSeconds: 10 });
      // Let the poll reach its wait before launching.
      await new Promise((r) => setTimeout(r, 2));
      const t0 = performance.now();
      const run = await timed('RunTask', counted, () => ecs<{ tasks: Array<{ taskArn: string }> }>('RunTask', { cluster, taskDefinition: 'bench', count: 1 }));
      const polled = await poll;
      record('RunTask -> Poll answered', performance.now() - t0, counted);
      fp = polled.fingerprint;
      const taskArn = run.tasks[0]!.taskArn;
      if (!polled.tasks.some((t) => t.taskArn === taskArn)) throw new Error('the woken poll did not carry the new task');

      await timed('ReportTaskState RUNNING', counted, () =>
        agent('ReportTaskState', { cluster, taskArn, change: { status: 'RUNNING', containers: [{ containerName: 'app', status: 'RUNNING', runtimeId: `pid-${i}` }] } }),
      );
      const d = await timed('DescribeTasks', counted, () => ecs<{ tasks: Array<{ lastStatus: string }> }>('DescribeTasks', { cluster, tasks: [taskArn] }));
      if (d.tasks[0]?.lastStatus !== 'RUNNING') throw new Error(`task is ${d.tasks[0]?.lastStatus}, not RUNNING`);
      fp = (await timed('Poll (immediate, 1 live task)', counted, () => agent<PollOut>('Poll', { cluster, containerInstanceArn: ci, waitSeconds: 0 }))).fingerprint;
      await timed('ReportTaskState STOPPED', counted, () =>
        agent('ReportTaskState', { cluster, taskArn, change: { status: 'STOPPED', containers: [{ containerName: 'app', status: 'STOPPED', exitCode: 0 }] } }),
      );
      fp = (await agent<PollOut>('Poll', { cluster, containerInstanceArn: ci, waitSeconds: 0 })).fingerprint;
    }

    console.log(`control-plane API latency, ${N} iterations (+${WARMUP} warm-up), one at a time, loopback HTTP, SQLite (WAL, synchronous=FULL)`);
    for (const [name, xs] of [...results].sort((a, b) => Number(a[0].startsWith('store.')) - Number(b[0].startsWith('store.')))) {
      console.log(`${name.padEnd(42)} p50 ${pct(xs, 50).toFixed(3).padStart(7)} ms   p99 ${pct(xs, 99).toFixed(3).padStart(7)} ms`);
    }
  } finally {
    await berth.close();
    keepAlive.destroy();
    await new Promise<void>((r) => bare.close(() => r()));
  }
}

await main();
