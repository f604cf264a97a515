// The example web service: answers GET / with a greeting, GET /health with 200, and logs one
// line per request. It listens on $PORT (the process driver's host port) or 8080 (its
// containerPort, inside a container), and stops cleanly on SIGTERM, finishing what is in flight.
import { createServer } from 'node:http';
import { hostname } from 'node:os';

const port = Number(process.env.PORT ?? 8080);
const greeting = process.env.GREETING ?? 'hello';
const version = process.env.VERSION ?? '1';

const server = createServer((req, res) => {
  if (req.url === '/health') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok\n');
    return;
  }
  const body = `${greeting} from web v${version} (${hostname()}, pid ${process.pid})\n`;
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
  res.end(body);
  console.log(`${new Date().toISOString()} ${req.method} ${req.url} 200`);
});
server.keepAliveTimeout = 65_000;
server.listen(port, () => console.log(`web v${version} listening on ${port}`));
process.on('SIGTERM', () => {
  console.log('SIGTERM: finishing requests in flight');
  server.close(() => process.exit(0));
  server.closeIdleConnections();
});
