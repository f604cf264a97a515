// The front proxy (nginx's role in the seed's app): every request goes to the API
// (API_HOST/API_PORT_3000); Berth's load balancer publishes it.
import http from 'node:http';

// Node as PID 1 has no default SIGTERM handler: without this, a stop waits out the stop timeout.
process.on('SIGTERM', () => process.exit(0));

http
  .createServer((req, res) => {
    const up = http.request({ host: process.env.API_HOST ?? 'api', port: Number(process.env.API_PORT_3000 ?? 3000), path: req.url, method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', (e) => res.writeHead(502).end(`front: ${e.message}\n`));
    req.pipe(up);
  })
  .listen(Number(process.env.PORT_8080 ?? 8080), () => console.log('front listening'));
