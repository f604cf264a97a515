// The agent's log shipper, exactly once, against a real Berth over HTTP: a PutLogEvents whose
// answer is lost after the server stored it is recognised (read back, never sent twice); one
// that never reached the server is sent again; a shipper "crashing" between a stored batch and
// its cursor write, or before sending, is followed by a new one on the same state dir that
// resumes from the acknowledged cursor and neither loses nor repeats a line, identical lines of
// the same millisecond included; batches never span more than 24 h; a full stream stops taking
// lines and has them read again; state files are 0600, hold no message, and a damaged one is
// ignored without a crash.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudWatchLogsClient, GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { startTestBerth, type TestBerth } from '../helpers/fixture.js';
import { jsonService } from '../../src/client/awsClient.js';
import { LogShipper } from '../../src/agent/logShipper.js';
import { batchLength, fitMessage } from '../../src/agent/logBatch.js';
import type { LogDestination } from '../../src/agent/logStream.js';
import { LOGS_LIMITS } from '../../src/logsLimits.js';

let berth: TestBerth;
let logs: CloudWatchLogsClient;
let call: ReturnType<typeof jsonService>;
const dirs: string[] = [];

before(async () => {
  berth = await startTestBerth();
  logs = new CloudWatchLogsClient(berth.clientConfig);
  call = jsonService({ endpoint: berth.url, region: 'us-east-1', accessKeyId: berth.credentials.accessKeyId, secretAccessKey: berth.credentials.secretAccessKey }, 'logs');
});
after(async () => {
  logs.destroy();
  await berth.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function stateDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'berth-shipper-'));
  dirs.push(d);
  return d;
}

let streams = 0;
function dest(): LogDestination {
  return { group: '/test/shipper', stream: `s/${++streams}`, createGroup: true };
}

/** Every message of a stream, in the order GetLogEvents gives them. */
async function stored(d: LogDestination): Promise<string[]> {
  const out: string[] = [];
  let nextToken: string | undefined;
  for (;;) {
    const page = await logs.send(new GetLogEventsCommand({ logGroupName: d.group, logStreamName: d.stream, startFromHead: true, nextToken }));
    if (!page.events?.length) return out;
    out.push(...page.events.map((e) => e.message!));
    nextToken = page.nextForwardToken;
  }
}

/** A fake container's output: line i has cursor String(i + 1), so "after cursor c" is lines c... */
function source(n: number, at: (i: number) => number, text: (i: number) => string = (i) => `line ${i}`) {
  return Array.from({ length: n }, (_, i) => ({ timestamp: at(i), message: text(i), source: 'app', cursor: String(i + 1) }));
}
const after_ = (cursor: string | undefined) => (cursor === undefined ? 0 : Number(cursor));

/** A logs client whose PutLogEvents can be made to fail around the server: `lost` stores then fails; `unsent` fails without sending; `hang` stores and never answers. */
function faulty() {
  const plan: Array<'lost' | 'unsent' | 'hang' | 'ok'> = [];
  let puts = 0;
  const client = async <T = Record<string, unknown>>(operation: string, input: unknown): Promise<T> => {
    if (operation === 'PutLogEvents') {
      puts++;
      const what = plan.shift() ?? 'ok';
      if (what === 'unsent') throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
      const out = await call<T>(operation, input);
      if (what === 'lost') throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
      if (what === 'hang') return new Promise<T>(() => undefined);
      return out;
    }
    return call<T>(operation, input);
  };
  return { client, plan, puts: () => puts };
}

test('an answer lost after the server stored the batch: read back and not sent again; a request that never arrived: sent again', async () => {
  const d = dest();
  const f = faulty();
  const shipper = new LogShipper(f.client, { stateDir: stateDir() });
  await shipper.prepare(d);
  const now = Date.now();
  const lines = source(30, () => now); // all of the same millisecond
  f.plan.push('lost');
  for (const l of lines.slice(0, 10)) shipper.push(d, l);
  await shipper.flush();
  assert.deepEqual(await stored(d), lines.slice(0, 10).map((l) => l.message), 'stored once, though its answer was lost');
  f.plan.push('unsent');
  for (const l of lines.slice(10, 20)) shipper.push(d, l);
  await shipper.flush();
  for (const l of lines.slice(20)) shipper.push(d, l);
  await shipper.flush();
  await shipper.close();
  assert.deepEqual(await stored(d), lines.map((l) => l.message));
});

test('identical lines of the same millisecond: a lost answer is told apart from a batch that never landed', async () => {
  const now = Date.now();
  for (const fault of ['lost', 'unsent'] as const) {
    const d = dest();
    const f = faulty();
    const shipper = new LogShipper(f.client, { stateDir: stateDir() });
    await shipper.prepare(d);
    for (let i = 0; i < 3; i++) shipper.push(d, { timestamp: now, message: 'ok', source: 'app', cursor: String(i + 1) });
    await shipper.flush();
    f.plan.push(fault);
    for (let i = 3; i < 5; i++) shipper.push(d, { timestamp: now, message: 'ok', source: 'app', cursor: String(i + 1) });
    await shipper.flush();
    await shipper.flush();
    await shipper.close();
    assert.deepEqual(await stored(d), ['ok', 'ok', 'ok', 'ok', 'ok'], fault);
  }
});

for (const crash of ['after PutLogEvents stored the batch', 'before PutLogEvents was sent'] as const) {
  test(`a shipper that dies ${crash}: the next one resumes from the acknowledged cursor, nothing lost or repeated`, async () => {
    const d = dest();
    const dir = stateDir();
    const now = Date.now();
    // 3 lines per millisecond, some of them identical.
    const lines = source(200, (i) => now - 1000 + Math.floor(i / 3), (i) => (i % 3 === 2 ? 'same' : `line ${i}`));
    const first = faulty();
    const a = new LogShipper(first.client, { stateDir: dir });
    await a.prepare(d);
    for (const l of lines.slice(0, 50)) a.push(d, l);
    await a.flush();
    // The next batch: stored then the process dies (the answer never comes), or dies before sending.
    if (crash === 'after PutLogEvents stored the batch') first.plan.push('hang');
    else first.plan.push('unsent');
    for (const l of lines.slice(50, 120)) a.push(d, l);
    void a.flush();
    // Wait until the batch is in flight (its state written) and, for a hang, stored.
    const deadline = Date.now() + 10_000;
    while (first.puts() < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const storedBefore = await stored(d);
    assert.equal(storedBefore.length, crash === 'after PutLogEvents stored the batch' ? 120 : 50);
    // `a` is gone (never closed, its memory lost). A new shipper on the same state dir:
    const b = new LogShipper(call, { stateDir: dir });
    const resume = b.restore(d);
    assert.equal(resume.app, '50', 'resumes after the last acknowledged line');
    // The driver replays everything after that cursor, and the container goes on printing.
    for (const l of lines.slice(after_(resume.app))) b.push(d, l);
    await b.flush();
    await b.close();
    assert.deepEqual(await stored(d), lines.map((l) => l.message));
    // A third shipper resumes after the very last line.
    const c = new LogShipper(call, { stateDir: dir });
    assert.equal(c.restore(d).app, '200');
    await c.close();
  });
}

test('a crash with nothing acknowledged yet: the whole output is replayed once', async () => {
  const d = dest();
  const dir = stateDir();
  const lines = source(20, () => Date.now());
  const first = faulty();
  first.plan.push('hang');
  const a = new LogShipper(first.client, { stateDir: dir });
  await a.prepare(d);
  for (const l of lines) a.push(d, l);
  void a.flush();
  const deadline = Date.now() + 10_000;
  while ((await stored(d)).length < 20 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const b = new LogShipper(call, { stateDir: dir });
  const resume = b.restore(d);
  assert.equal(resume.app, undefined, 'from the first line');
  for (const l of lines) b.push(d, l);
  await b.flush();
  await b.close();
  assert.deepEqual(await stored(d), lines.map((l) => l.message));
});

test('batches span at most 24 h and keep push order for the cursor', async () => {
  const now = Date.now();
  const queue = [now - 30 * 3600_000, now - 25 * 3600_000, now - 2 * 3600_000, now].map((timestamp) => ({ timestamp, bytes: 30 }));
  assert.equal(batchLength(queue), 2, 'the third would make the batch span 28 h');
  assert.equal(batchLength(queue.slice(2)), 2);
  assert.equal(batchLength(Array.from({ length: 20_000 }, () => ({ timestamp: now, bytes: 30 }))), LOGS_LIMITS.maxEvents);
  assert.equal(batchLength(Array.from({ length: 10 }, () => ({ timestamp: now, bytes: 300_000 }))), 3);
  // Through the server, which refuses a batch spanning more than 24 h.
  const d = dest();
  const shipper = new LogShipper(call, { stateDir: stateDir() });
  await shipper.prepare(d);
  const lines = [now - 30 * 3600_000, now - 25 * 3600_000, now - 2 * 3600_000, now].map((t, i) => ({ timestamp: t, message: `at ${i}`, source: 'app', cursor: String(i + 1) }));
  for (const l of lines) shipper.push(d, l);
  await shipper.flush();
  await shipper.close();
  assert.deepEqual(await stored(d), ['at 0', 'at 1', 'at 2', 'at 3']);
});

test('a full stream stops taking lines and has them read again from the last one it took', async () => {
  const d = dest();
  const f = faulty();
  const shipper = new LogShipper(f.client, { stateDir: stateDir(), maxBufferBytes: 2_000 });
  await shipper.prepare(d);
  const lines = source(300, () => Date.now());
  const rereads: Array<string | undefined> = [];
  // The "driver": pushes from a position; a reread restarts it from the cursor given.
  let next = 0;
  shipper.setRereader(d, 'app', (afterCursor) => {
    rereads.push(afterCursor);
    next = after_(afterCursor);
  });
  // The control plane is away while the container prints everything.
  for (let i = 0; i < 20; i++) f.plan.push('unsent');
  while (next < lines.length) shipper.push(d, lines[next++]!);
  for (let i = 0; i < 20 && f.plan.length; i++) await shipper.flush();
  // Back: the stream drains and asks for the rest again (each time it fills up), which the driver delivers.
  for (let round = 0; round < 200 && (await stored(d)).length < lines.length; round++) {
    await shipper.flush();
    while (next < lines.length) shipper.push(d, lines[next++]!);
  }
  await shipper.close();
  assert.ok(rereads.length >= 1, 'asked to read again');
  assert.deepEqual(await stored(d), lines.map((l) => l.message));
});

test('state files: 0600, no message in them, and a damaged one is ignored without a crash', async () => {
  const d = dest();
  const dir = stateDir();
  const messages: string[] = [];
  const a = new LogShipper(call, { stateDir: dir });
  await a.prepare(d);
  const secretish = `printed-by-the-container-${process.pid}`;
  a.push(d, { timestamp: Date.now(), message: secretish, source: 'app', cursor: '1' });
  messages.push(secretish);
  await a.flush();
  await a.close();
  const files = readdirSync(dir);
  assert.equal(files.length, 1);
  const file = join(dir, files[0]!);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.ok(!readFileSync(file, 'utf8').includes(secretish), 'the state file holds no message');
  for (const bad of ['{not json', 'null', '[]', JSON.stringify({ v: 1, group: d.group, stream: d.stream, acked: { app: 7 }, maxAckedTs: null }), JSON.stringify({ v: 1, group: d.group, stream: d.stream, acked: {}, maxAckedTs: 1, inflight: { sources: { app: { count: -1 } }, maxTs: 1, evidence: [] } })]) {
    writeFileSync(file, bad);
    const notes: string[] = [];
    const b = new LogShipper(call, { stateDir: dir, log: (m) => notes.push(m) });
    assert.deepEqual(b.restore(d), {});
    assert.match(notes.join('\n'), /unreadable state file/);
    await b.close();
  }
  // Release removes the file once everything is shipped.
  writeFileSync(file, JSON.stringify({ v: 1, group: d.group, stream: d.stream, acked: { app: '1' }, maxAckedTs: 1 }));
  const c = new LogShipper(call, { stateDir: dir });
  assert.deepEqual(c.restore(d), { app: '1' });
  c.release(d);
  assert.deepEqual(readdirSync(dir), []);
  await c.close();
});

test('an oversize message is cut at a character boundary, never past the event limit', () => {
  const max = LOGS_LIMITS.maxEventBytes - LOGS_LIMITS.perEventOverhead;
  for (const ch of ['é', '€', '🙂', 'a']) {
    for (const pad of [0, 1, 2, 3]) {
      const m = fitMessage('x'.repeat(pad) + ch.repeat(Math.ceil(max / Buffer.byteLength(ch)) + 5));
      assert.ok(Buffer.byteLength(m) <= max && Buffer.byteLength(m) > max - 4, `${ch} ${pad}: ${Buffer.byteLength(m)}`);
      assert.ok(!m.includes('\ufffd'));
    }
  }
  assert.equal(fitMessage(''), ' ');
});
