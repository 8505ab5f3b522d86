import {
  createDecipheriv,
  createECDH,
  createPublicKey,
  hkdfSync,
  randomBytes,
  verify as verifySignature,
} from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { Webhook } from 'standardwebhooks';

function listen(server: http.Server, host = '127.0.0.1'): Promise<string> {
  return new Promise((resolve) =>
    server.listen(0, host, () => resolve(`http://${host}:${(server.address() as AddressInfo).port}`)),
  );
}

function close(server: http.Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => resolve(Buffer.concat(parts)));
    req.on('error', reject);
  });
}

export type SinkPlan = { status: number; headers?: Record<string, string>; hangMs?: number };

/**
 * A webhook receiver that verifies every request with the standardwebhooks library (as a
 * merchant's receiver would), counts deliveries per webhook-id, and answers as told.
 */
export async function startWebhookSink(secret: () => string | string[], host = '127.0.0.1') {
  const byId = new Map<string, number>();
  const bodies: { id: string; body: unknown }[] = [];
  let invalid = 0;
  const plan: SinkPlan[] = [];
  const server = http.createServer(async (req, res) => {
    const body = (await readBody(req)).toString('utf8');
    const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
    const secrets = [secret()].flat();
    const ok = secrets.some((s) => {
      try {
        new Webhook(s).verify(body, headers);
        return true;
      } catch {
        return false;
      }
    });
    if (!ok) {
      invalid++;
      res.writeHead(401).end('bad signature');
      return;
    }
    const step = plan.shift();
    if (step?.hangMs) await new Promise((r) => setTimeout(r, step.hangMs));
    if (step && (step.status < 200 || step.status >= 300)) {
      res.writeHead(step.status, step.headers).end(`planned ${step.status}`);
      return;
    }
    const id = headers['webhook-id']!;
    byId.set(id, (byId.get(id) ?? 0) + 1);
    bodies.push({ id, body: JSON.parse(body) });
    res.writeHead(step?.status ?? 200, { 'content-type': 'text/plain' }).end('ok');
  });
  const url = await listen(server, host);
  return {
    url,
    byId,
    bodies,
    get invalid() {
      return invalid;
    },
    /** the next requests answer these, in order (after a valid signature) */
    plan: (...steps: SinkPlan[]) => plan.push(...steps),
    close: () => close(server),
  };
}

const b64url = (b: Buffer) => b.toString('base64url');

/** A browser's side of a push subscription: its key pair and auth secret. */
export function pushSubscriber(endpoint: string) {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  const auth = randomBytes(16);
  return {
    subscription: { endpoint, keys: { p256dh: b64url(ecdh.getPublicKey()), auth: b64url(auth) } },
    /** RFC 8291 + RFC 8188 (aes128gcm), one record */
    decrypt(body: Buffer): string {
      const salt = body.subarray(0, 16);
      const idlen = body[20]!;
      const asPublic = body.subarray(21, 21 + idlen);
      const record = body.subarray(21 + idlen);
      const secret = ecdh.computeSecret(asPublic);
      const keyInfo = Buffer.concat([Buffer.from('WebPush: info\0'), ecdh.getPublicKey(), asPublic]);
      const ikm = Buffer.from(hkdfSync('sha256', secret, auth, keyInfo, 32));
      const cek = Buffer.from(
        hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: aes128gcm\0'), 16),
      );
      const nonce = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: nonce\0'), 12));
      const decipher = createDecipheriv('aes-128-gcm', cek, nonce);
      decipher.setAuthTag(record.subarray(record.length - 16));
      const padded = Buffer.concat([
        decipher.update(record.subarray(0, record.length - 16)),
        decipher.final(),
      ]);
      let end = padded.length - 1;
      while (end >= 0 && padded[end] === 0) end--;
      if (padded[end] !== 2) throw new Error('not a final record');
      return padded.subarray(0, end).toString('utf8');
    },
  };
}

/** Checks a VAPID Authorization header (RFC 8292): ES256 JWT signed by the key in k=, audience = origin. */
export function checkVapid(header: string | undefined, origin: string): { sub: string; publicKey: string } {
  const m = /^vapid t=([\w-]+\.[\w-]+\.[\w-]+), k=([\w-]+)$/.exec(header ?? '');
  if (!m) throw new Error(`not a vapid Authorization header: ${header}`);
  const [h, p, s] = m[1]!.split('.') as [string, string, string];
  const point = Buffer.from(m[2]!, 'base64url');
  const key = createPublicKey({
    key: { kty: 'EC', crv: 'P-256', x: b64url(point.subarray(1, 33)), y: b64url(point.subarray(33, 65)) },
    format: 'jwk',
  });
  const header0 = JSON.parse(Buffer.from(h, 'base64url').toString());
  if (header0.alg !== 'ES256') throw new Error(`alg ${header0.alg}`);
  const ok = verifySignature(
    'sha256',
    Buffer.from(`${h}.${p}`),
    { key, dsaEncoding: 'ieee-p1363' },
    Buffer.from(s, 'base64url'),
  );
  if (!ok) throw new Error('VAPID signature does not verify');
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
  if (claims.aud !== origin) throw new Error(`aud ${claims.aud} is not ${origin}`);
  if (!(claims.exp > Date.now() / 1000)) throw new Error('expired');
  return { sub: claims.sub, publicKey: m[2]! };
}

/** A push service: checks VAPID, decrypts, answers 201 — or 410 for subscriptions marked gone. */
export async function startPushService() {
  const received: { path: string; payload: string; vapidKey: string; sub: string }[] = [];
  const subscribers = new Map<string, ReturnType<typeof pushSubscriber>>();
  const gone = new Set<string>();
  let rejected = 0;
  const server = http.createServer(async (req, res) => {
    const body = await readBody(req);
    const sub = subscribers.get(req.url ?? '');
    if (!sub) return void res.writeHead(404).end();
    if (gone.has(req.url ?? '')) return void res.writeHead(410).end('gone');
    try {
      if (req.headers['content-encoding'] !== 'aes128gcm') throw new Error('content-encoding');
      if (!req.headers.ttl) throw new Error('no TTL');
      const vapid = checkVapid(req.headers.authorization, url);
      received.push({
        path: req.url!,
        payload: sub.decrypt(body),
        vapidKey: vapid.publicKey,
        sub: vapid.sub,
      });
      res.writeHead(201).end();
    } catch (error) {
      rejected++;
      res.writeHead(400).end((error as Error).message);
    }
  });
  const url = await listen(server);
  let n = 0;
  return {
    url,
    received,
    get rejected() {
      return rejected;
    },
    subscribe() {
      const path = `/push/${++n}`;
      const s = pushSubscriber(`${url}${path}`);
      subscribers.set(path, s);
      return { ...s, path };
    },
    markGone: (path: string) => gone.add(path),
    close: () => close(server),
  };
}

/** An SMTP server that accepts mail and refuses (550) recipients at bounce.test for good. */
export async function startSmtpPeer() {
  const messages: { to: string[]; raw: string }[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onRcptTo(address, _session, callback) {
      if (address.address.endsWith('@bounce.test')) {
        const error = new Error('5.1.1 no such user') as Error & { responseCode: number };
        error.responseCode = 550;
        return callback(error);
      }
      callback();
    },
    onData(stream, session, callback) {
      const parts: Buffer[] = [];
      stream.on('data', (c: Buffer) => parts.push(c));
      stream.on('end', () => {
        messages.push({
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(parts).toString(),
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.server.address() as AddressInfo).port;
  return {
    url: `smtp://127.0.0.1:${port}`,
    messages,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
