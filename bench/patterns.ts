/**
 * Issue 12's pattern figures: a listener rule of five wildcards against 64 KiB request paths
 * built to make a backtracking matcher explode, first in process (the matcher alone), then end
 * to end: 100 such requests at once through a real listener while `/_berth/health` and an ECS
 * call are timed, against the same with short paths (the peer, measured in the same run).
 *
 *   node dist/bench/patterns.js [--rounds 5]
 *
 * Targets: a 64 KiB path matched in under 5 ms; health and ECS within 100 ms while 100 such
 * requests run.
 */
import { performance } from 'node:perf_hooks';
import { request } from 'node:http';
import { ECSClient, ListClustersCommand } from '@aws-sdk/client-ecs';
import { ElasticLoadBalancingV2Client, CreateLoadBalancerCommand, CreateListenerCommand, CreateRuleCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { compileGlob } from '../src/domain/glob.js';
import { startTestBerth, freePort } from '../test/helpers/fixture.js';
import { createTestTargetGroup } from '../test/lb/backends.js';

const args = process.argv.slice(2);
const ROUNDS = args.includes('--rounds') ? Number(args[args.indexOf('--rounds') + 1]) : 5;
const PATTERN = '/img/*/*/*/*/*.png';
const LONG = 64 * 1024;

/**
 * Paths of `len` characters that match no part of the pattern cheaply, in turn: slashes
 * everywhere but no `.png` at the end (a backtracking matcher tries every split of them);
 * `.png` at the end but no slash after `/img/` (a scan of the whole path for the first one);
 * `.png` at the end and only three slashes, the last near the end (three scans, the fourth
 * fails at the end).
 */
function hostilePath(len: number, salt: number): string {
  const fill = (s: string, n: number) => s.repeat(Math.ceil(n / s.length)).slice(0, n);
  switch (salt % 3) {
    case 0:
      return '/img/' + fill('a/', len - 6) + 'x';
    case 1:
      return '/img/' + fill('a', len - 9) + '.png';
    default:
      return '/img/' + fill('a', (len - 13) >> 1) + '/b/' + fill('a', len - 13 - ((len - 13) >> 1)) + '/.png';
  }
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

function matcherAlone(): { p50: number; p99: number; max: number } {
  const glob = compileGlob(PATTERN, false);
  const paths = Array.from({ length: 300 }, (_, i) => hostilePath(LONG, i));
  for (const p of paths.slice(0, 30)) glob(p); // warm-up (compilation), not counted
  const times: number[] = [];
  for (let i = 0; i < 300; i++) {
    const p = paths[i]!;
    const t0 = performance.now();
    if (glob(p)) throw new Error('the hostile path must not match');
    times.push(performance.now() - t0);
  }
  return { p50: quantile(times, 0.5), p99: quantile(times, 0.99), max: Math.max(...times) };
}

/** One GET with a path of `len`; resolves with its status. */
function getPath(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

async function main(): Promise<void> {
  const alone = matcherAlone();
  process.stdout.write(`matcher alone, ${PATTERN} against 64 KiB hostile paths (300, three kinds): p50 ${alone.p50.toFixed(3)} ms, p99 ${alone.p99.toFixed(3)} ms, max ${alone.max.toFixed(3)} ms (after 30 warm-up matches; target < 5 ms)\n`);

  const berth = await startTestBerth();
  const ecs = new ECSClient(berth.clientConfig);
  const elb = new ElasticLoadBalancingV2Client(berth.clientConfig);
  try {
    const tg = await createTestTargetGroup(elb, 'img');
    const lb = (await elb.send(new CreateLoadBalancerCommand({ Name: 'edge', Subnets: ['subnet-a', 'subnet-b'] }))).LoadBalancers![0]!.LoadBalancerArn!;
    const port = await freePort();
    const listener = (
      await elb.send(
        new CreateListenerCommand({
          LoadBalancerArn: lb,
          Protocol: 'HTTP',
          Port: port,
          DefaultActions: [{ Type: 'fixed-response', FixedResponseConfig: { StatusCode: '404', ContentType: 'text/plain', MessageBody: 'none' } }],
        }),
      )
    ).Listeners![0]!.ListenerArn!;
    await elb.send(new CreateRuleCommand({ ListenerArn: listener, Priority: 1, Conditions: [{ Field: 'path-pattern', Values: [PATTERN] }], Actions: [{ Type: 'forward', TargetGroupArn: tg }] }));
    for (let i = 0; ; i++) {
      if ((await getPath(port, '/ready').catch(() => 0)) === 404) break;
      if (i > 200) throw new Error('the listener never answered');
      await new Promise((r) => setTimeout(r, 50));
    }

    /** Times health and ECS calls, one after the other, while `load` runs. */
    const probe = async (load: Promise<unknown>) => {
      const health: number[] = [];
      const api: number[] = [];
      let done = false;
      void load.finally(() => (done = true));
      while (!done) {
        let t0 = performance.now();
        await fetch(`${berth.url}/_berth/health`).then((r) => r.text());
        health.push(performance.now() - t0);
        t0 = performance.now();
        await ecs.send(new ListClustersCommand({}));
        api.push(performance.now() - t0);
      }
      await load;
      return { health, api };
    };
    const rows: Array<[string, { health: number[]; api: number[] }, number]> = [];
    for (const [label, len] of [
      ['short paths (peer)', 32],
      ['64 KiB hostile paths', LONG],
    ] as const) {
      const health: number[] = [];
      const api: number[] = [];
      let statuses = 0;
      for (let round = 0; round < ROUNDS; round++) {
        const load = Promise.all(Array.from({ length: 100 }, (_, i) => getPath(port, hostilePath(len, i)))).then((s) => (statuses += s.filter((x) => x === 404).length));
        const r = await probe(load);
        health.push(...r.health);
        api.push(...r.api);
      }
      rows.push([label, { health, api }, statuses]);
    }
    process.stdout.write(`\n100 requests at once through a listener with one ${PATTERN} rule, ${ROUNDS} rounds; probes run one after the other meanwhile\n`);
    for (const [label, r, statuses] of rows) {
      process.stdout.write(
        `${label.padEnd(22)} /_berth/health p50 ${quantile(r.health, 0.5).toFixed(1).padStart(6)} ms  max ${Math.max(...r.health).toFixed(1).padStart(6)} ms   ECS ListClusters p50 ${quantile(r.api, 0.5).toFixed(1).padStart(6)} ms  max ${Math.max(...r.api).toFixed(1).padStart(6)} ms   (${statuses} of ${ROUNDS * 100} answered by the default 404)\n`,
      );
    }
    const [peer, hostile] = [rows[0]![1], rows[1]![1]];
    const worst = Math.max(...hostile.health, ...hostile.api);
    process.stdout.write(
      `\nratio hostile/peer, max: health ${(Math.max(...hostile.health) / Math.max(...peer.health)).toFixed(2)}x, ECS ${(Math.max(...hostile.api) / Math.max(...peer.api)).toFixed(2)}x\n` +
        `matcher < 5 ms: ${alone.max < 5 ? 'MET' : 'NOT MET'}; health and ECS < 100 ms under 100 hostile requests: ${worst < 100 ? 'MET' : 'NOT MET'} (worst ${worst.toFixed(1)} ms)\n`,
    );
  } finally {
    ecs.destroy();
    elb.destroy();
    await berth.close();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
