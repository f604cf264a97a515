// The API server: writes and reads the Postgres-like store (POSTGRES_HOST/PORT, by service name)
// and the Redis-like one (CACHE_HOST/PORT, by its hostname `cache`). Notes whether the database
// answered when it started (depends_on: service_healthy).
import http from 'node:http';
import { call } from './lib.mjs';

const pg = [process.env.POSTGRES_HOST, process.env.POSTGRES_PORT_5432];
const kv = [process.env.CACHE_HOST, process.env.CACHE_PORT_6379];
const dbAtStart = await call(...pg, 'PING').then(() => true, () => false);
console.log(`api starting (database answered: ${dbAtStart})`);

http
  .createServer(async (req, res) => {
    const url = new URL(req.url, 'http://api');
    try {
      let body;
      if (url.pathname === '/') body = 'ok';
      else if (url.pathname === '/items' && req.method === 'POST') {
        await call(...pg, `INSERT items ${url.searchParams.get('name')}`);
        body = { writes: Number(await call(...kv, 'INCR writes')) };
      } else if (url.pathname === '/items') {
        body = {
          items: JSON.parse(await call(...pg, 'SELECT items')),
          writes: Number((await call(...kv, 'GET writes')) || 0),
          workerTicks: Number((await call(...kv, 'GET worker_ticks')) || 0),
          dbAtStart,
          greeting: process.env.GREETING,
          tokenLength: (process.env.API_TOKEN ?? '').trim().length,
        };
      } else {
        res.writeHead(404).end('not found\n');
        return;
      }
      res.writeHead(200, { 'content-type': typeof body === 'string' ? 'text/plain' : 'application/json' }).end(typeof body === 'string' ? body : JSON.stringify(body));
      console.log(`${req.method} ${req.url} 200`);
    } catch (e) {
      res.writeHead(500).end(`${e.message}\n`);
    }
  })
  .listen(Number(process.env.PORT_3000 ?? 3000), () => console.log('api listening'));
