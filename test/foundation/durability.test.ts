// Acknowledged writes survive kill -9: stream CreateCluster calls at a real `berth up` process,
// kill it mid-stream, restart on the same data dir, and find every acknowledged cluster.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ECSClient, CreateClusterCommand, ListClustersCommand } from '@aws-sdk/client-ecs';
import { spawnBerth } from '../helpers/processes.js';
import { readCredentials } from '../../src/config/credentials.js';

test('kill -9 during a stream of CreateCluster calls loses no acknowledged cluster', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'berth-durability-'));
  try {
    const first = await spawnBerth(['--no-agent', '--data-dir', dataDir]);
    const creds = readCredentials(dataDir)!;
    const config = (url: string) => ({ endpoint: url, region: 'us-east-1', credentials: creds, maxAttempts: 1 });
    const ecs = new ECSClient(config(first.url));
    const acknowledged: string[] = [];
    let n = 0;
    let killed = false;
    const worker = async () => {
      while (!killed) {
        const name = `c-${n++}`;
        try {
          await ecs.send(new CreateClusterCommand({ clusterName: name }));
          acknowledged.push(name); // the server answered: the write is acknowledged
        } catch {
          return; // connection died with the server
        }
      }
    };
    const workers = Array.from({ length: 4 }, worker);
    // Kill once a fair number of writes were acknowledged, with requests still in flight.
    while (acknowledged.length < 150) await new Promise((r) => setTimeout(r, 10));
    first.child.kill('SIGKILL');
    killed = true;
    assert.equal(await first.exited, 'SIGKILL');
    await Promise.all(workers);
    ecs.destroy();

    const second = await spawnBerth(['--no-agent', '--data-dir', dataDir]);
    const ecs2 = new ECSClient(config(second.url));
    const present = new Set<string>();
    let nextToken: string | undefined;
    do {
      const page = await ecs2.send(new ListClustersCommand({ nextToken, maxResults: 100 }));
      for (const a of page.clusterArns ?? []) present.add(a.split('/').pop()!);
      nextToken = page.nextToken;
    } while (nextToken);
    const missing = acknowledged.filter((c) => !present.has(c));
    assert.deepEqual(missing, [], `acknowledged but lost after kill -9: ${missing.join(', ')}`);
    assert.ok(acknowledged.length >= 150);
    ecs2.destroy();
    second.child.kill('SIGTERM');
    assert.equal(await second.exited, 0);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
