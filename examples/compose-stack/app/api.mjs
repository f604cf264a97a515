// The API server: POST /items?name=x inserts a row into Postgres, queues its id on a Redis list
// and counts writes in Redis; GET /items reads both back. It notes whether Postgres answered
// when it started (depends_on: condition: service_healthy) and when that was.
import http from 'node:http';
import { cache, postgres } from './db.mjs';

// Node as PID 1 has no default SIGTERM handler: without this, a stop waits out the stop timeout.
process.on('SIGTERM', () => process.exit(0));

const db = postgres();
const kv = cache();
const startedAt = new Date().toISOString();
const dbAtStart = await db.query('SELECT 1').then(() => true, () => false);
console.log(`api starting at ${startedAt} (postgres answered: ${dbAtStart})`);

async function handle(req, url) {
  if (url.pathname === '/' || url.pathname === '/health') return 'ok'; // the load balancer's and the healthcheck's
  if (url.pathname === '/items' && req.method === 'POST') {
    const name = url.searchParams.get('name') ?? '';
    if (!name || name.length > 100) throw Object.assign(new Error('name: 1 to 100 characters'), { status: 400 });
    const { rows } = await db.query('INSERT INTO items (name) VALUES ($1) RETURNING id', [name]);
    await kv.send('RPUSH', 'jobs', rows[0].id);
    return { id: rows[0].id, writes: await kv.send('INCR', 'writes') };
  }
  if (url.pathname === '/items') {
    const { rows } = await db.query('SELECT id, name, processed_by FROM items ORDER BY id');
    return {
      items: rows.map((r) => r.name),
      processed: rows.filter((r) => r.processed_by).length,
      writes: Number((await kv.send('GET', 'writes')) ?? 0),
      dbAtStart,
      startedAt,
      greeting: process.env.GREETING,
      version: process.env.APP_VERSION,
      server: (await db.query('SHOW server_version')).rows[0].server_version,
      redis: /redis_version:(\S+)/.exec(await kv.send('INFO', 'server'))?.[1],
    };
  }
  throw Object.assign(new Error('not found'), { status: 404 });
}

http
  .createServer(async (req, res) => {
    const url = new URL(req.url, 'http://api');
    try {
      const body = await handle(req, url);
      res.writeHead(200, { 'content-type': typeof body === 'string' ? 'text/plain' : 'application/json' }).end(typeof body === 'string' ? body : JSON.stringify(body));
      if (url.pathname.startsWith('/items')) console.log(`${req.method} ${req.url} 200`);
    } catch (e) {
      res.writeHead(e.status ?? 500).end(`${e.message}\n`);
      console.log(`${req.method} ${req.url} ${e.status ?? 500} ${e.message}`);
    }
  })
  .listen(Number(process.env.PORT_3000 ?? 3000), () => console.log('api listening'));
