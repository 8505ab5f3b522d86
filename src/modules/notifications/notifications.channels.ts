import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import dns from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { Agent, type Dispatcher, request, errors as undiciErrors } from 'undici';
import webpush from 'web-push';
import { AppError } from '../../platform/errors.ts';
import { type Mailer, MERCHANT_HEADER } from '../../platform/mail.ts';

export const Channels = ['email', 'webhook', 'push'] as const;
export type Channel = (typeof Channels)[number];

export type Outgoing = {
  id: string;
  merchantId: string;
  channel: Channel;
  recipient: string;
  idempotencyKey: string;
  customerId?: string | null;
  payload: { subject?: string; text?: string; html?: string; data?: Record<string, unknown> };
};

export type Outcome = {
  outcome: 'delivered' | 'transient_error' | 'permanent_error';
  /** bounced: the mail server refused the address for good */
  bounced?: boolean;
  responseCode: number | null;
  response: string | null;
  error: string | null;
  latencyMs: number;
  retryAfterMs?: number;
  /** push: the subscription no longer exists (404/410) and must not be tried again */
  gone?: boolean;
};

// Addresses a webhook may not reach in production: loopback, private, link-local, CGNAT,
// unspecified and multicast ranges, IPv4 and IPv6 — the usual server-side request forgery targets.
const forbidden = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  forbidden.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
  ['::ffff:0:0', 96],
] as const) {
  forbidden.addSubnet(net, prefix, 'ipv6');
}

/** The configured exceptions: CIDRs (`10.1.0.0/16`) or single addresses a target may resolve to. */
export function allowlist(entries: string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const [net, prefix] = entry.split('/');
    const family = isIP(net ?? '');
    if (family === 0) throw new Error(`WEBHOOK_PRIVATE_ALLOWLIST: ${entry} is not an address or CIDR`);
    const type = family === 6 ? 'ipv6' : 'ipv4';
    if (prefix === undefined) list.addAddress(net!, type);
    else list.addSubnet(net!, Number(prefix), type);
  }
  return list;
}

export function isForbiddenAddress(address: string, allowed?: BlockList): boolean {
  const family = isIP(address);
  if (family === 0) return true;
  const type = family === 6 ? 'ipv6' : 'ipv4';
  return forbidden.check(address, type) && !allowed?.check(address, type);
}

export class TargetForbiddenError extends Error {}

/** A DNS lookup that refuses forbidden addresses at connect time, so a rebinding name cannot slip through. */
function guardedLookup(allowPrivate: boolean, allowed: BlockList): LookupFunction {
  return (hostname, options, callback) => {
    dns.lookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, '', 0);
      const list = addresses as dns.LookupAddress[];
      const ok = allowPrivate ? list : list.filter((a) => !isForbiddenAddress(a.address, allowed));
      if (ok.length === 0) {
        return callback(
          new TargetForbiddenError(`${hostname} resolves only to private or loopback addresses`),
          '',
          0,
        );
      }
      if ((options as { all?: boolean }).all)
        return (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, ok);
      callback(null, ok[0]!.address, ok[0]!.family);
    });
  };
}

/** Checks a webhook URL before anything is queued: scheme, and where it points. */
export async function assertWebhookTarget(
  url: string,
  allowPrivate: boolean,
  allowed?: BlockList,
  what = 'webhook',
): Promise<void> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new AppError('NOTIFICATION_ADDRESS_INVALID', `Not a URL: ${url}`);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new AppError('NOTIFICATION_ADDRESS_INVALID', `A ${what} URL must be http or https`);
  }
  if (parsed.username || parsed.password) {
    throw new AppError('NOTIFICATION_ADDRESS_INVALID', `A ${what} URL must not carry credentials`);
  }
  if (allowPrivate) return;
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  const addresses = isIP(host)
    ? [host]
    : await dns.promises
        .lookup(host, { all: true })
        .then((list) => list.map((a) => a.address))
        .catch(() => {
          throw new AppError('NOTIFICATION_ADDRESS_INVALID', `The ${what} host ${host} does not resolve`);
        });
  if (addresses.some((a) => isForbiddenAddress(a, allowed))) {
    throw new AppError(
      'NOTIFICATION_TARGET_FORBIDDEN',
      `The ${what} host ${host} is a private, loopback or link-local address; allow it with WEBHOOK_PRIVATE_ALLOWLIST`,
    );
  }
}

// Secrets as KeyObjects, made once: an HMAC over a raw Buffer key imports the key on every call,
// which cost ~45 µs of the ~53 µs a signature took (profile of bench:notify); a KeyObject skips it.
// Bounded, as secrets rotate: past the bound the cache starts over.
const signingKeys = new Map<string, KeyObject>();
function signingKey(secret: string): KeyObject {
  let key = signingKeys.get(secret);
  if (!key) {
    if (signingKeys.size >= 10_000) signingKeys.clear();
    key = createSecretKey(Buffer.from(secret.replace(/^whsec_/, ''), 'base64'));
    signingKeys.set(secret, key);
  }
  return key;
}

/** Standard Webhooks signature: base64 HMAC-SHA256 of `id.timestamp.body`, one `v1,` entry per secret. */
export function signWebhook(secrets: string[], id: string, timestamp: number, body: string): string {
  const content = `${id}.${timestamp}.${body}`;
  return secrets
    .map((secret) => `v1,${createHmac('sha256', signingKey(secret)).update(content).digest('base64')}`)
    .join(' ');
}

function retryAfterMs(value: string | string[] | undefined): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return undefined;
  const seconds = Number(v);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

export type VapidDetails = { subject: string; publicKey: string; privateKey: string };

export type ChannelOptions = {
  mailer: Mailer;
  mailFrom: string;
  webhookTimeoutMs: number;
  allowPrivateWebhookTargets: boolean;
  privateAllowlist: BlockList;
  vapid: () => VapidDetails;
  connections?: number;
};

/** What a delivery needs besides the notification: the merchant's signing secrets, fetched once per batch. */
export type DeliveryContext = { webhookSecrets: string[] };

export type Deliver = (n: Outgoing, context: DeliveryContext) => Promise<Outcome>;

/** A push message's encrypted record is at most 4096 bytes; this leaves room for the aes128gcm header. */
export const PUSH_PAYLOAD_MAX_BYTES = 3800;

export type PushSubscription = { endpoint: string; keys: { p256dh: string; auth: string } };

/** Parses and checks a PushSubscription (the browser's `subscription.toJSON()`), as JSON text or object. */
export function parsePushSubscription(value: unknown): PushSubscription {
  let sub: unknown = value;
  if (typeof value === 'string') {
    try {
      sub = JSON.parse(value);
    } catch {
      throw new AppError('NOTIFICATION_ADDRESS_INVALID', 'A push subscription must be PushSubscription JSON');
    }
  }
  const s = sub as Partial<PushSubscription> | null;
  const b64url = /^[A-Za-z0-9_-]+={0,2}$/;
  const p256dh = typeof s?.keys?.p256dh === 'string' ? Buffer.from(s.keys.p256dh, 'base64url') : undefined;
  const auth = typeof s?.keys?.auth === 'string' ? Buffer.from(s.keys.auth, 'base64url') : undefined;
  if (
    typeof s?.endpoint !== 'string' ||
    !b64url.test(s.keys?.p256dh ?? '') ||
    !b64url.test(s.keys?.auth ?? '') ||
    p256dh?.length !== 65 ||
    p256dh[0] !== 4 ||
    auth?.length !== 16
  ) {
    throw new AppError(
      'NOTIFICATION_ADDRESS_INVALID',
      'A push subscription needs an endpoint and keys.p256dh (a P-256 public key) and keys.auth (16 bytes), base64url',
    );
  }
  return { endpoint: s.endpoint, keys: { p256dh: s.keys!.p256dh, auth: s.keys!.auth } };
}

function classifyHttp(res: Dispatcher.ResponseData, text: string, latencyMs: number): Outcome {
  const base = { responseCode: res.statusCode, response: text, latencyMs };
  if (res.statusCode >= 200 && res.statusCode < 300) return { outcome: 'delivered', error: null, ...base };
  const transient = res.statusCode >= 500 || res.statusCode === 408 || res.statusCode === 429;
  return {
    outcome: transient ? 'transient_error' : 'permanent_error',
    error: `HTTP ${res.statusCode}`,
    ...(transient ? { retryAfterMs: retryAfterMs(res.headers['retry-after']) } : {}),
    ...base,
  };
}

function networkFailure(error: unknown, timeoutMs: number, latencyMs: number): Outcome {
  const forbiddenTarget =
    error instanceof TargetForbiddenError || (error as Error).cause instanceof TargetForbiddenError;
  const timeout =
    error instanceof undiciErrors.HeadersTimeoutError ||
    error instanceof undiciErrors.BodyTimeoutError ||
    error instanceof undiciErrors.ConnectTimeoutError;
  return {
    outcome: forbiddenTarget ? 'permanent_error' : 'transient_error',
    responseCode: null,
    response: null,
    error: timeout ? `timeout after ${timeoutMs} ms` : (error as Error).message,
    latencyMs,
  };
}

export function createChannels(options: ChannelOptions): { deliver: Deliver; close(): Promise<void> } {
  const agent = new Agent({
    connections: options.connections ?? 128,
    keepAliveTimeout: 10_000,
    pipelining: 1,
    connect: {
      lookup: guardedLookup(options.allowPrivateWebhookTargets, options.privateAllowlist),
      timeout: options.webhookTimeoutMs,
    },
  });
  const timeoutMs = options.webhookTimeoutMs;

  async function post(url: string, headers: Record<string, string>, body: string | Buffer, started: number) {
    try {
      const res = await request(url, {
        method: 'POST',
        dispatcher: agent,
        headers,
        body,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      const text = (await res.body.text()).slice(0, 500);
      return classifyHttp(res, text, Date.now() - started);
    } catch (error) {
      return networkFailure(error, timeoutMs, Date.now() - started);
    }
  }

  function webhook(n: Outgoing, context: DeliveryContext, started: number): Promise<Outcome> {
    const body = JSON.stringify({
      type: n.payload.data?.['type'] ?? 'notification',
      timestamp: new Date().toISOString(),
      data: { notificationId: n.id, subject: n.payload.subject, text: n.payload.text, ...n.payload.data },
    });
    const timestamp = Math.floor(Date.now() / 1000);
    return post(
      n.recipient,
      {
        'content-type': 'application/json',
        'user-agent': 'SwipeSavvy-Webhooks/1',
        'webhook-id': n.idempotencyKey,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': signWebhook(context.webhookSecrets, n.idempotencyKey, timestamp, body),
      },
      body,
      started,
    );
  }

  async function push(n: Outgoing, started: number): Promise<Outcome> {
    let details: webpush.RequestDetails;
    try {
      const subscription = parsePushSubscription(n.recipient);
      details = webpush.generateRequestDetails(subscription, pushPayload(n), {
        vapidDetails: options.vapid(),
        TTL: 24 * 3600,
        contentEncoding: 'aes128gcm',
      });
    } catch (error) {
      return {
        outcome: 'permanent_error',
        responseCode: null,
        response: null,
        error: (error as Error).message,
        latencyMs: Date.now() - started,
      };
    }
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(details.headers)) {
      if (k.toLowerCase() !== 'content-length') headers[k] = String(v);
    }
    const outcome = await post(details.endpoint, headers, details.body ?? Buffer.alloc(0), started);
    if (outcome.responseCode === 404 || outcome.responseCode === 410) outcome.gone = true;
    return outcome;
  }

  async function email(n: Outgoing, started: number): Promise<Outcome> {
    try {
      const info = await options.mailer.sendMail({
        from: options.mailFrom,
        to: n.recipient,
        subject: n.payload.subject ?? 'SwipeSavvy',
        text: n.payload.text ?? '',
        ...(n.payload.html ? { html: n.payload.html } : {}),
        messageId: `<${n.idempotencyKey}@swipesavvy>`,
        headers: { [MERCHANT_HEADER]: n.merchantId, 'X-SwipeSavvy-Notification': n.id },
      });
      const accepted = (info.accepted as (string | { address: string })[]).length > 0;
      const code = Number.parseInt(String(info.response).slice(0, 3), 10) || null;
      return {
        outcome: accepted ? 'delivered' : 'permanent_error',
        bounced: !accepted,
        responseCode: code,
        response: String(info.response),
        error: accepted ? null : `rejected: ${String(info.response)}`,
        latencyMs: Date.now() - started,
      };
    } catch (error) {
      const code = (error as { responseCode?: number }).responseCode;
      const permanent = typeof code === 'number' && code >= 500;
      return {
        outcome: permanent ? 'permanent_error' : 'transient_error',
        bounced: permanent,
        responseCode: code ?? null,
        response: (error as { response?: string }).response ?? null,
        error: (error as Error).message,
        latencyMs: Date.now() - started,
      };
    }
  }

  return {
    async deliver(n, context) {
      const started = Date.now();
      if (n.channel === 'webhook') return webhook(n, context, started);
      if (n.channel === 'email') return email(n, started);
      return push(n, started);
    },
    close: () => agent.close(),
  };
}

/** What the service worker receives: the message, and how to confirm it was displayed or opened. */
export function pushPayload(n: Pick<Outgoing, 'id' | 'idempotencyKey' | 'payload'>): string {
  return JSON.stringify({
    notificationId: n.id,
    title: n.payload.subject ?? 'SwipeSavvy',
    body: n.payload.text ?? '',
    data: n.payload.data ?? {},
    receipt: { url: `/api/notifications/${n.id}/receipt`, token: n.idempotencyKey },
  });
}
