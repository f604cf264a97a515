// Benchmark: CloudWatch Logs ingestion and search on a real Berth over HTTP.
//
// 1. Starts Berth in a child process (ephemeral state) and sends 1,000,000 events through
//    signed PutLogEvents requests (raw SigV4 via src/protocol/sigv4.ts), a few batches in flight.
// 2. Runs FilterLogEvents for a term that occurs in 10 of the events, over all of them.
// 3. Peer measured in the same run: the same rows appended straight into a fresh SQLite event
//    store (no HTTP, no JSON, no validation): the floor the HTTP path is compared with.
//
// Run: npx tsc -p . && node dist/bench/logs-ingest.js [events] [concurrency]
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { signRequest } from '../src/protocol/sigv4.js';
import { SqliteLogEventStore, type NewEvent } from '../src/domain/logs/eventStore.js';

const TOTAL = Number(process.argv[2] ?? 1_000_000);
const CONCURRENCY = Number(process.argv[3] ?? 4);
/** Events per PutLogEvents call: ~95-byte messages keep a batch under 1,048,576 bytes. */
const BATCH = 8_000;
const STREAMS = 8;
const RARE = 'NEEDLE-7f3a';
const RARE_EVERY = Math.floor(TOTAL / 10);

interface ServerInfo {
  url: string;
  accessKeyId: string;
  secretAccessKey: string;
}

/** The server half: runs in the child process and reports where it listens. */
async function serve(): Promise<void> {
  const { startBerth } = await import('../src/berth.js');
  const berth = await startBerth({ port: 0, ephemeral: true, env: {} });
  process.send!({ url: berth.url, accessKeyId: berth.credentials.accessKeyId, secretAccessKey: berth.credentials.secretAccessKey } satisfies ServerInfo);
  process.on('message', async (m) => {
    if (m === 'stop') {
      await berth.close();
      process.exit(0);
    }
  });
}

function message(n: number): string {
  const base = `2026-11-22T04:00:00.000Z INFO req=${n.toString(16).padStart(8, '0')} GET /api/v1/items/${n % 977} 200 ${n % 500}ms user=u${n % 1000}`;
  return n % RARE_EVERY === 123 ? `${base} ${RARE}` : base;
}

function batchEvents(b: number, t0: number): NewEvent[] {
  const out: NewEvent[] = [];
  const first = b * BATCH;
  for (let n = first; n < Math.min(first + BATCH, TOTAL); n++) out.push({ timestamp: t0 + Math.floor(n / 10), message: message(n) });
  return out;
}

async function call(info: ServerInfo, op: string, body: object): Promise<any> {
  const url = new URL(info.url + '/');
  const text = JSON.stringify(body);
  const headers = signRequest({
    method: 'POST',
    url,
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `Logs_20140328.${op}` },
    body: text,
    accessKeyId: info.accessKeyId,
    secretAccessKey: info.secretAccessKey,
    region: 'us-east-1',
    service: 'logs',
  });
  delete headers.host;
  const res = await fetch(url, { method: 'POST', headers, body: text });
  const out = await res.text();
  if (res.status !== 200) throw new Error(`${op} failed: ${res.status} ${out}`);
  return JSON.parse(out);
}

async function main(): Promise<void> {
  const child = fork(fileURLToPath(import.meta.url), ['--server'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const info = await new Promise<ServerInfo>((resolve, reject) => {
    child.once('message', (m) => resolve(m as ServerInfo));
    child.once('exit', (c) => reject(new Error(`server exited with ${c}`)));
  });
  try {
    const group = '/bench/ingest';
    await call(info, 'CreateLogGroup', { logGroupName: group });
    for (let s = 0; s < STREAMS; s++) await call(info, 'CreateLogStream', { logGroupName: group, logStreamName: `s${s}` });
    const t0 = Date.now() - 3600_000;
    const batches = Math.ceil(TOTAL / BATCH);

    // Ingest over HTTP.
    let next = 0;
    const started = performance.now();
    const worker = async () => {
      for (;;) {
        const b = next++;
        if (b >= batches) return;
        const out = await call(info, 'PutLogEvents', { logGroupName: group, logStreamName: `s${b % STREAMS}`, logEvents: batchEvents(b, t0) });
        if (out.rejectedLogEventsInfo) throw new Error(`events rejected: ${JSON.stringify(out.rejectedLogEventsInfo)}`);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const ingestS = (performance.now() - started) / 1000;
    const httpRate = TOTAL / ingestS;

    // Rare-term search over everything (first call and a repeat).
    const searches: number[] = [];
    let found = 0;
    for (let i = 0; i < 3; i++) {
      const s0 = performance.now();
      const out = await call(info, 'FilterLogEvents', { logGroupName: group, filterPattern: `"${RARE}"` });
      searches.push(performance.now() - s0);
      found = out.events.length;
    }
    const expected = Array.from({ length: TOTAL }, (_, n) => n).filter((n) => n % RARE_EVERY === 123).length;
    if (found !== expected) throw new Error(`filter found ${found} events, expected ${expected}`);
    const j0 = performance.now();
    const jsonOut = await call(info, 'FilterLogEvents', { logGroupName: group, filterPattern: 'GET "/items/976 " -u999', limit: 100 });
    const commonMs = performance.now() - j0;

    // Peer: raw SQLite appends of the same rows, no HTTP.
    const dir = mkdtempSync(join(tmpdir(), 'berth-logs-bench-'));
    const store = new SqliteLogEventStore(join(dir, 'logs.db'));
    const g = store.createGroup({ region: 'us-east-1', name: group, creationTime: t0, logGroupClass: 'STANDARD', deletionProtection: false, tags: {} })!;
    const streams = Array.from({ length: STREAMS }, (_, s) => store.createStream(g.id, `s${s}`, t0)!);
    const prepared = Array.from({ length: batches }, (_, b) => batchEvents(b, t0));
    const r0 = performance.now();
    for (let b = 0; b < batches; b++) store.append(streams[b % STREAMS]!, prepared[b]!, Date.now());
    const rawRate = TOTAL / ((performance.now() - r0) / 1000);
    store.close();
    rmSync(dir, { recursive: true, force: true });

    const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
    console.log(`logs-ingest: ${fmt(TOTAL)} events, ${batches} PutLogEvents batches of ${BATCH}, ${CONCURRENCY} in flight, ${STREAMS} streams`);
    console.log(`  HTTP ingest        ${fmt(httpRate)} events/s (${ingestS.toFixed(2)} s)   target >= 50,000`);
    console.log(`  rare-term filter   ${searches.map((s) => s.toFixed(0)).join(' / ')} ms (first / repeats), ${found} hits   target <= 1000 ms`);
    console.log(`  3-term filter      ${commonMs.toFixed(0)} ms for the first ${jsonOut.events.length} matches`);
    console.log(`  peer: raw SQLite append of the same rows (no HTTP) ${fmt(rawRate)} events/s`);
    console.log(`  ratio HTTP / raw SQLite = ${(httpRate / rawRate).toFixed(2)}`);
  } finally {
    child.send('stop');
  }
}

if (process.argv.includes('--server')) await serve();
else await main();
