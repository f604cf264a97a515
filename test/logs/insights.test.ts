// Logs Insights (StartQuery / GetQueryResults / StopQuery) through @aws-sdk/client-cloudwatch-logs
// v3 and the real aws CLI: fields, filter (comparisons, like, in, boolean ops), stats by bin()
// and field, sort, limit, parse (glob and RE2 regex), JSON fields; malformed queries and bad
// input refused with AWS's codes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  CloudWatchLogsClient,
  CreateLogGroupCommand,
  CreateLogStreamCommand,
  GetQueryResultsCommand,
  PutLogEventsCommand,
  StartQueryCommand,
  StopQueryCommand,
  type ResultField,
} from '@aws-sdk/client-cloudwatch-logs';
import { aws, awsOk, errorOf, eventually, startTestBerth, type TestBerth } from '../helpers/fixture.js';
import { compileQuery } from '../../src/domain/logs/insights.js';
import { QueryExecution } from '../../src/domain/logs/insightsExecution.js';

let berth: TestBerth;
let logs: CloudWatchLogsClient;
/** Start of the data: a whole 5-minute bin, an hour ago. */
const t0 = Math.floor((Date.now() - 3600_000) / 300_000) * 300_000;

before(async () => {
  berth = await startTestBerth();
  logs = new CloudWatchLogsClient(berth.clientConfig);
  await logs.send(new CreateLogGroupCommand({ logGroupName: '/q/web' }));
  await logs.send(new CreateLogStreamCommand({ logGroupName: '/q/web', logStreamName: 'a' }));
  // 12 requests over 10 minutes (two 5-minute bins): status, latency, user.
  const lines = [
    [0, 'GET /home 200 12 user=alice'],
    [30, 'GET /home 200 8 user=bob'],
    [60, 'POST /login 401 3 user=eve'],
    [90, 'GET /api 500 250 user=alice'],
    [120, 'GET /api 200 40 user=bob'],
    [150, 'GET /api 200 35 user=carol'],
    [300, 'GET /home 200 10 user=alice'],
    [330, 'GET /api 503 900 user=bob'],
    [360, 'GET /api 200 45 user=alice'],
    [390, 'POST /login 200 5 user=carol'],
    [420, 'GET /home 404 2 user=dave'],
    [450, 'GET /api 200 50 user=alice'],
  ] as const;
  await logs.send(new PutLogEventsCommand({ logGroupName: '/q/web', logStreamName: 'a', logEvents: lines.map(([s, message]) => ({ timestamp: t0 + s * 1000, message })) }));
  await logs.send(new CreateLogGroupCommand({ logGroupName: '/q/json' }));
  await logs.send(new CreateLogStreamCommand({ logGroupName: '/q/json', logStreamName: 'j' }));
  await logs.send(
    new PutLogEventsCommand({
      logGroupName: '/q/json',
      logStreamName: 'j',
      logEvents: [
        { timestamp: t0, message: JSON.stringify({ level: 'error', req: { path: '/a', ms: 30 } }) },
        { timestamp: t0 + 1000, message: JSON.stringify({ level: 'info', req: { path: '/b', ms: 10 } }) },
        { timestamp: t0 + 2000, message: JSON.stringify({ level: 'error', req: { path: '/c', ms: 50 } }) },
      ],
    }),
  );
});

after(async () => {
  logs?.destroy();
  await berth?.close();
});

const PARSE = 'parse @message "* * * * user=*" as method, path, status, ms, user';

/** Runs a query to completion and returns its rows as objects. */
async function run(queryString: string, group = '/q/web', limit?: number): Promise<Record<string, string>[]> {
  const { queryId } = await logs.send(new StartQueryCommand({ logGroupName: group, startTime: Math.floor(t0 / 1000) - 60, endTime: Math.floor(t0 / 1000) + 3600, queryString, limit }));
  const r = await eventually(
    async () => {
      const out = await logs.send(new GetQueryResultsCommand({ queryId }));
      return out.status === 'Complete' || out.status === 'Failed' ? out : undefined;
    },
    { what: `query ${queryString}` },
  );
  assert.equal(r.status, 'Complete', queryString);
  assert.ok((r.statistics?.recordsScanned ?? 0) > 0);
  return (r.results ?? []).map((row: ResultField[]) => Object.fromEntries(row.map((f) => [f.field!, f.value!])));
}

test('fields, filter with comparisons, like, in and boolean operators, sort and limit', async () => {
  let rows = await run(`${PARSE} | filter status >= 500 | fields @timestamp, path, status, user | sort ms desc`);
  assert.deepEqual(rows.map((r) => [r.path, r.status, r.user]), [['/api', '503', 'bob'], ['/api', '500', 'alice']]);
  assert.match(rows[0]!['@timestamp']!, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$/);
  rows = await run(`${PARSE} | filter (method = "POST" or status in [404, 401]) and not user like /^eve/ | fields user`);
  assert.deepEqual(rows.map((r) => r.user).sort(), ['carol', 'dave']);
  rows = await run(`filter @message like "alice" | fields @message | sort @timestamp desc | limit 2`);
  assert.deepEqual(rows.map((r) => r['@message']), ['GET /api 200 50 user=alice', 'GET /api 200 45 user=alice']);
  rows = await run(`${PARSE} | filter ms * 2 > 100 and path != "/home" | fields path, ms | sort ms`);
  assert.deepEqual(rows.map((r) => r.ms), ['250', '900']);
  // Default output: @timestamp and @message, the query's limit bounds the rows.
  rows = await run('filter @message like /GET/', '/q/web', 3);
  assert.equal(rows.length, 3);
  assert.deepEqual(Object.keys(rows[0]!).sort(), ['@message', '@timestamp']);
});

test('stats count/sum/avg/min/max by bin(5m) and by a field, then sort and limit (aws CLI)', async () => {
  let rows = await run(`${PARSE} | stats count(*) as requests, sum(ms) as total, max(ms) as worst by bin(5m)`);
  assert.equal(rows.length, 2);
  assert.deepEqual(rows.map((r) => [r.requests, r.total, r.worst]), [['6', '348', '250'], ['6', '1012', '900']]);
  assert.equal(rows[0]!['bin(5m)'], new Date(t0).toISOString().replace('T', ' ').replace('Z', ''));

  rows = await run(`${PARSE} | stats count(*) as n, avg(ms) as avgMs, min(ms) by user | sort n desc, user | limit 2`);
  assert.deepEqual(rows.map((r) => [r.user, r.n, r.avgMs, r['min(ms)']]), [['alice', '5', String((12 + 250 + 10 + 45 + 50) / 5), '10'], ['bob', '3', String((8 + 40 + 900) / 3), '8']]);

  const start = await awsOk(berth.awsEnv, [
    'logs', 'start-query', '--log-group-name', '/q/web',
    '--start-time', String(Math.floor(t0 / 1000) - 60), '--end-time', String(Math.floor(t0 / 1000) + 3600),
    '--query-string', `${PARSE} | filter status like /^5/ | stats count(*) as errors by path`,
  ]);
  const out = await eventually(async () => {
    const r = await awsOk(berth.awsEnv, ['logs', 'get-query-results', '--query-id', start.queryId]);
    return r.status === 'Complete' ? r : undefined;
  }, { what: 'the CLI query' });
  assert.deepEqual(out.results, [[{ field: 'path', value: '/api' }, { field: 'errors', value: '2' }]]);
  assert.equal(out.statistics.recordsScanned, 12);
  assert.equal(out.statistics.recordsMatched, 2);
});

test('parse with an RE2 regex and JSON fields of messages', async () => {
  let rows = await run('parse @message /^(?<verb>[A-Z]+) (?<route>\\S+) (?<code>\\d+)/ | filter verb = "POST" | fields route, code | sort code');
  assert.deepEqual(rows.map((r) => [r.route, r.code]), [['/login', '200'], ['/login', '401']]);
  rows = await run('filter level = "error" | stats sum(req.ms) as ms, count(*) as n', '/q/json');
  assert.deepEqual(rows, [{ ms: '80', n: '2' }]);
  rows = await run('fields req.path as p | filter req.ms < 40 | sort p', '/q/json');
  assert.deepEqual(rows.map((r) => r.p), ['/a', '/b']);
});

test('malformed queries and bad input are refused with AWS codes; StopQuery', async () => {
  const start = (queryString: string, extra: Record<string, unknown> = {}) =>
    errorOf(logs.send(new StartQueryCommand({ logGroupName: '/q/web', startTime: 0, endTime: Math.floor(Date.now() / 1000), queryString, ...extra })));
  for (const bad of ['fields', 'frobnicate x', 'filter a = ', 'stats x by y', 'parse @message /(a/ ', 'parse @message /(?=x)/', 'limit 0', 'stats count(*) by bin(5y)', 'filter @message like /a\\1/']) {
    const e = await start(bad);
    assert.equal(e.name, 'MalformedQueryException', bad);
  }
  let e = await start('fields @message', { logGroupName: '/q/none' });
  assert.equal(e.name, 'ResourceNotFoundException');
  e = await start('fields @message', { startTime: 100, endTime: 50 });
  assert.equal(e.name, 'InvalidParameterException');
  e = await start('fields @message', { logGroupNames: ['/q/web'] });
  assert.equal(e.name, 'InvalidParameterException');
  e = await errorOf(logs.send(new GetQueryResultsCommand({ queryId: '00000000-0000-0000-0000-000000000000' })));
  assert.equal(e.name, 'ResourceNotFoundException');
  const cli = await aws(berth.awsEnv, ['logs', 'start-query', '--log-group-name', '/q/web', '--start-time', '0', '--end-time', '10', '--query-string', 'sort']);
  assert.notEqual(cli.status, 0);
  assert.match(cli.stderr, /MalformedQueryException/);

  // A finished query cannot be stopped; a stopped one says Cancelled.
  const { queryId } = await logs.send(new StartQueryCommand({ logGroupName: '/q/web', startTime: 0, endTime: Math.floor(Date.now() / 1000), queryString: 'fields @message' }));
  const stopped = await logs.send(new StopQueryCommand({ queryId })).then(() => true, () => false);
  const status = (await logs.send(new GetQueryResultsCommand({ queryId }))).status;
  if (stopped) assert.equal(status, 'Cancelled');
  else assert.equal(status, 'Complete');
  await eventually(async () => (await logs.send(new GetQueryResultsCommand({ queryId }))).status !== 'Running', { what: 'the query ends' });
  e = await errorOf(logs.send(new StopQueryCommand({ queryId })));
  assert.equal(e.name, 'InvalidParameterException');
});

test('the executor: limit before a barrier ends the scan; sort followed by limit keeps a bounded top k', () => {
  const q = new QueryExecution(compileQuery('filter n > 2 | limit 3'), 1000);
  for (let i = 0; i < 100 && !q.done; i++) q.push({ '@timestamp': i, '@message': `m${i}`, n: i });
  assert.equal(q.done, true);
  assert.deepEqual(q.finish().map((r) => r.find((f) => f.field === '@message')!.value), ['m3', 'm4', 'm5']);
  const top = new QueryExecution(compileQuery('sort n desc | limit 2'), 1000);
  for (let i = 0; i < 50_000; i++) top.push({ '@timestamp': i, '@message': `m${i}`, n: (i * 7919) % 50_000 });
  assert.deepEqual(top.finish().map((r) => r.find((f) => f.field === '@message')!.value), ['m32321', 'm14642']);
});
