import { createHmac } from 'node:crypto';
import dns from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { Agent, request, errors as undiciErrors } from 'undici';
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

export function isForbiddenAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return true;
  return forbidden.check(address, family === 6 ? 'ipv6' : 'ipv4');
}

export class TargetForbiddenError extends Error {}

/** A DNS lookup that refuses forbidden addresses at connect time, so a rebinding name cannot slip through. */
function guardedLookup(allowPrivate: boolean): LookupFunction {
  return (hostname, options, callback) => {
    dns.lookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, '', 0);
      const list = addresses as dns.LookupAddress[];
      const allowed = allowPrivate ? list : list.filter((a) => !isForbiddenAddress(a.address));
      if (allowed.length === 0) {
        return callback(
          new TargetForbiddenError(`${hostname} resolves only to private or loopback addresses`),
          '',
          0,
        );
      }
      if ((options as { all?: boolean }).all)
        return (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, allowed);
      callback(null, allowed[0]!.address, allowed[0]!.family);
    });
  };
}

/** Checks a webhook URL before anything is queued: scheme, and where it points. */
export async function assertWebhookTarget(url: string, allowPrivate: boolean): Promise<void> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new AppError('NOTIFICATION_ADDRESS_INVALID', `Not a URL: ${url}`);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new AppError('NOTIFICATION_ADDRESS_INVALID', 'A webhook URL must be http or https');
  }
  if (parsed.username || parsed.password) {
    throw new AppError('NOTIFICATION_ADDRESS_INVALID', 'A webhook URL must not carry credentials');
  }
  if (allowPrivate) return;
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  const addresses = isIP(host)
    ? [host]
    : await dns.promises
        .lookup(host, { all: true })
        .then((list) => list.map((a) => a.address))
        .catch(() => {
          throw new AppError('NOTIFICATION_ADDRESS_INVALID', `The webhook host ${host} does not resolve`);
        });
  if (addresses.some(isForbiddenAddress)) {
    throw new AppError(
      'NOTIFICATION_TARGET_FORBIDDEN',
      `The webhook host ${host} is a private, loopback or link-local address; allow it with ALLOW_PRIVATE_WEBHOOK_TARGETS`,
    );
  }
}

/** Standard Webhooks signature: base64 HMAC-SHA256 of `id.timestamp.body`, one `v1,` entry per secret. */
export function signWebhook(secrets: string[], id: string, timestamp: number, body: string): string {
  return secrets
    .map((secret) => {
      const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
      return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
    })
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

export type ChannelOptions = {
  mailer: Mailer;
  mailFrom: string;
  webhookTimeoutMs: number;
  allowPrivateWebhookTargets: boolean;
  webhookSecrets: (merchantId: string) => Promise<string[]>;
};

export type Deliver = (n: Outgoing) => Promise<Outcome>;

export function createChannels(options: ChannelOptions): { deliver: Deliver; close(): Promise<void> } {
  const agent = new Agent({
    connections: 128,
    keepAliveTimeout: 10_000,
    connect: { lookup: guardedLookup(options.allowPrivateWebhookTargets), timeout: options.webhookTimeoutMs },
  });

  async function webhook(n: Outgoing, started: number): Promise<Outcome> {
    const body = JSON.stringify({
      type: n.payload.data?.['type'] ?? 'notification',
      timestamp: new Date().toISOString(),
      data: { notificationId: n.id, subject: n.payload.subject, text: n.payload.text, ...n.payload.data },
    });
    const timestamp = Math.floor(Date.now() / 1000);
    const secrets = await options.webhookSecrets(n.merchantId);
    try {
      const res = await request(n.recipient, {
        method: 'POST',
        dispatcher: agent,
        headers: {
          'content-type': 'application/json',
          'user-agent': 'SwipeSavvy-Webhooks/1',
          'webhook-id': n.idempotencyKey,
          'webhook-timestamp': String(timestamp),
          'webhook-signature': signWebhook(secrets, n.idempotencyKey, timestamp, body),
        },
        body,
        headersTimeout: options.webhookTimeoutMs,
        bodyTimeout: options.webhookTimeoutMs,
      });
      const text = (await res.body.text()).slice(0, 500);
      const base = { responseCode: res.statusCode, response: text, latencyMs: Date.now() - started };
      if (res.statusCode >= 200 && res.statusCode < 300)
        return { outcome: 'delivered', error: null, ...base };
      const transient = res.statusCode >= 500 || res.statusCode === 408 || res.statusCode === 429;
      return {
        outcome: transient ? 'transient_error' : 'permanent_error',
        error: `HTTP ${res.statusCode}`,
        retryAfterMs: retryAfterMs(res.headers['retry-after']),
        ...base,
      };
    } catch (error) {
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
        error: timeout ? `timeout after ${options.webhookTimeoutMs} ms` : (error as Error).message,
        latencyMs: Date.now() - started,
      };
    }
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
    async deliver(n) {
      const started = Date.now();
      if (n.channel === 'webhook') return webhook(n, started);
      if (n.channel === 'email') return email(n, started);
      return {
        outcome: 'permanent_error',
        responseCode: null,
        response: null,
        error: 'web push delivery is not available yet',
        latencyMs: 0,
      };
    },
    close: () => agent.close(),
  };
}
