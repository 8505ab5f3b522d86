// The benchmark's receiver, in its own process: answers 200 and counts deliveries per webhook-id.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

const seen = new Set<string>();
let total = 0;
const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/stats') {
    res.writeHead(200, { 'content-type': 'application/json' });
    return void res.end(JSON.stringify({ distinct: seen.size, total }));
  }
  if (req.method === 'POST' && req.url === '/reset') {
    seen.clear();
    total = 0;
    return void res.end('{}');
  }
  req.resume();
  req.on('end', () => {
    const id = req.headers['webhook-id'];
    if (typeof id === 'string') {
      seen.add(id);
      total++;
    }
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
  });
});
server.keepAliveTimeout = 30_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${(server.address() as AddressInfo).port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
