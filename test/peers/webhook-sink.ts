import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Received = { id: string; timestamp: string; body: unknown; verified: boolean };

/**
 * A real HTTP receiver for webhooks: verifies the Standard Webhooks signature against the
 * secrets it is given and records what it received; `answer` sets the status it replies with.
 */
export async function startWebhookSink(secrets: () => string[]) {
  const received: Received[] = [];
  let answer = 204;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const id = String(req.headers['webhook-id'] ?? '');
      const timestamp = String(req.headers['webhook-timestamp'] ?? '');
      const offered = String(req.headers['webhook-signature'] ?? '')
        .split(' ')
        .map((s) => s.replace(/^v1,/, ''));
      const verified = secrets().some((secret) => {
        const expected = createHmac('sha256', Buffer.from(secret.replace(/^whsec_/, ''), 'base64'))
          .update(`${id}.${timestamp}.${raw}`)
          .digest();
        return offered.some((o) => {
          const got = Buffer.from(o, 'base64');
          return got.length === expected.length && timingSafeEqual(got, expected);
        });
      });
      received.push({ id, timestamp, body: JSON.parse(raw || 'null'), verified });
      res.statusCode = answer;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    answerWith(status: number) {
      answer = status;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
