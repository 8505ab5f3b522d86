import { readFileSync } from 'node:fs';
import path from 'node:path';
import Type, { type Static } from 'typebox';
import Value from 'typebox/value';

// The one place that reads process.env. Every variable is listed here with its default;
// the README's configuration table is written from this list.
const Env = Type.Object({
  NODE_ENV: Type.Union([Type.Literal('development'), Type.Literal('production'), Type.Literal('test')], {
    default: 'development',
  }),
  HOST: Type.String({ default: '127.0.0.1', minLength: 1 }),
  PORT: Type.Integer({ default: 8080, minimum: 0, maximum: 65535 }),
  DATA_DIR: Type.String({ default: './data', minLength: 1 }),
  DATABASE_URL: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
  EMBEDDED_PG_PORT: Type.Integer({ default: 54329, minimum: 1, maximum: 65535 }),
  // the embedded PostgreSQL's memory in MB (its shared buffers; the other sizes follow from it)
  EMBEDDED_PG_MEMORY_MB: Type.Optional(Type.Integer({ minimum: 32, maximum: 1_048_576 })),
  DB_POOL_MAX: Type.Integer({ default: 20, minimum: 2, maximum: 500 }),
  JWT_SECRET: Type.Optional(Type.String({ minLength: 32 })),
  JWT_TTL_SECONDS: Type.Integer({ default: 3600, minimum: 60, maximum: 2_592_000 }),
  SMTP_URL: Type.Optional(Type.String({ pattern: '^smtps?://' })),
  MAILBOX_PORT: Type.Integer({ default: 2525, minimum: 0, maximum: 65535 }),
  MAIL_FROM: Type.String({ default: 'SwipeSavvy <no-reply@swipesavvy.local>', minLength: 3 }),
  LOG_LEVEL: Type.Enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, {
    default: 'info',
  }),
  BODY_LIMIT_BYTES: Type.Integer({ default: 1_048_576, minimum: 1024, maximum: 104_857_600 }),
  AUTH_RATE_LIMIT_PER_MINUTE: Type.Integer({ default: 20, minimum: 1, maximum: 100_000 }),
  LOGIN_FAILURES_BEFORE_LOCK: Type.Integer({ default: 10, minimum: 1, maximum: 1000 }),
  WORKERS: Type.Boolean({ default: true }),
  WEBHOOK_TIMEOUT_MS: Type.Integer({ default: 5000, minimum: 100, maximum: 60_000 }),
  ALLOW_PRIVATE_WEBHOOK_TARGETS: Type.Optional(Type.Boolean()),
  APP_VERSION: Type.Optional(Type.String({ minLength: 1 })),
  SHUTDOWN_GRACE_MS: Type.Integer({ default: 10_000, minimum: 0, maximum: 300_000 }),
  BACKUP_DIR: Type.Optional(Type.String({ minLength: 1 })),
  BACKUP_KEEP: Type.Integer({ default: 7, minimum: 1, maximum: 1000 }),
  BACKUP_METHOD: Type.Union([Type.Literal('auto'), Type.Literal('pg_dump'), Type.Literal('copy')], {
    default: 'auto',
  }),
  BACKUP_MAX_AGE_HOURS: Type.Number({ default: 24, exclusiveMinimum: 0 }),
  REDIS_URL: Type.Optional(Type.String({ pattern: '^rediss?://' })),
  /** prefix of every key this deployment keeps in Redis (several deployments may share one Redis) */
  REDIS_KEY_PREFIX: Type.String({ default: 'swipesavvy:', pattern: '^[\\w:.-]{1,64}$' }),
  TLS_CHECK_HOST: Type.Optional(Type.String({ minLength: 1 })),
  TLS_CERT_FILE: Type.Optional(Type.String({ minLength: 1 })),
  ALERT_WEBHOOK_URL: Type.Optional(Type.String({ pattern: '^https?://' })),
  ALERT_SLACK_URL: Type.Optional(Type.String({ pattern: '^https?://' })),
  ALERT_PAGE_URL: Type.Optional(Type.String({ pattern: '^https?://' })),
  ALERT_TIME_SCALE: Type.Number({ default: 1, exclusiveMinimum: 0, maximum: 1 }),
  ALERTS_INTERVAL_SECONDS: Type.Number({ default: 15, minimum: 0, maximum: 3600 }),
  /** testing aid: `error=0.3,delayMs=200` makes this instance fail/slow requests (not readiness or /metrics) */
  FAULT_INJECTION: Type.Optional(
    Type.String({ pattern: '^((error=(0(\\.\\d+)?|1(\\.0+)?)|delayMs=\\d+)(,|$))+$' }),
  ),
  /** the built-in traffic router's control API (deploy/rollback talk to it) */
  ROUTER_CONTROL_URL: Type.String({ default: 'http://127.0.0.1:8079', pattern: '^https?://' }),
  /** when set, deploys use the nginx router whose prefix directory this is, instead of the built-in one */
  ROUTER_NGINX_DIR: Type.Optional(Type.String({ minLength: 1 })),
  /** comma-separated webhook URLs the go-live announcements are posted to */
  ANNOUNCE_WEBHOOK_URLS: Type.Optional(Type.String({ minLength: 1 })),
  WEBHOOK_PRIVATE_ALLOWLIST: Type.String({ default: '' }),
  WEBHOOK_SECRET_OVERLAP_HOURS: Type.Integer({ default: 24, minimum: 0, maximum: 24 * 30 }),
  NOTIFY_MAX_ATTEMPTS: Type.Integer({ default: 5, minimum: 1, maximum: 50 }),
  NOTIFY_RETRY_BASE_MS: Type.Integer({ default: 1000, minimum: 10, maximum: 3_600_000 }),
  NOTIFY_RETRY_MAX_MS: Type.Integer({ default: 300_000, minimum: 10, maximum: 86_400_000 }),
  NOTIFY_CONCURRENCY: Type.Integer({ default: 64, minimum: 1, maximum: 2000 }),
  NOTIFY_JOB_CONCURRENCY: Type.Integer({ default: 4, minimum: 1, maximum: 64 }),
  NOTIFY_LEASE_SECONDS: Type.Integer({ default: 30, minimum: 1, maximum: 3600 }),
  NOTIFY_MERCHANT_RATE_PER_SECOND: Type.Integer({ default: 20_000, minimum: 1, maximum: 1_000_000 }),
  NOTIFY_WEBHOOK_RATE_PER_SECOND: Type.Integer({ default: 50_000, minimum: 1, maximum: 1_000_000 }),
  NOTIFY_EMAIL_RATE_PER_SECOND: Type.Integer({ default: 200, minimum: 1, maximum: 1_000_000 }),
  NOTIFY_PUSH_RATE_PER_SECOND: Type.Integer({ default: 2000, minimum: 1, maximum: 1_000_000 }),
  VAPID_PUBLIC_KEY: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{80,100}$' })),
  VAPID_PRIVATE_KEY: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{40,50}$' })),
  VAPID_SUBJECT: Type.String({ default: 'mailto:no-reply@swipesavvy.local', pattern: '^(mailto:|https:)' }),
});
type Env = Static<typeof Env>;

export type Config = {
  env: Env['NODE_ENV'];
  host: string;
  port: number;
  dataDir: string;
  databaseUrl: string | undefined;
  embeddedPgPort: number;
  embeddedPgMemoryMb: number | undefined;
  dbPoolMax: number;
  jwtSecret: string | undefined;
  jwtTtlSeconds: number;
  smtpUrl: string | undefined;
  mailboxPort: number;
  mailFrom: string;
  logLevel: string;
  bodyLimitBytes: number;
  authRateLimitPerMinute: number;
  loginFailuresBeforeLock: number;
  workers: boolean;
  webhookTimeoutMs: number;
  allowPrivateWebhookTargets: boolean;
  version: string;
  shutdownGraceMs: number;
  backupDir: string;
  backupKeep: number;
  backupMethod: 'auto' | 'pg_dump' | 'copy';
  backupMaxAgeHours: number;
  redisUrl: string | undefined;
  redisKeyPrefix: string;
  tlsCheckHost: string | undefined;
  tlsCertFile: string | undefined;
  alertWebhookUrl: string | undefined;
  alertSlackUrl: string | undefined;
  alertPageUrl: string | undefined;
  /** multiplies every alert window and escalation delay (tests run the ladder in seconds) */
  alertTimeScale: number;
  /** how often the API process evaluates the alert rules; 0 turns the in-process evaluator off */
  alertsIntervalSeconds: number;
  faultInjection: { errorRate: number; delayMs: number } | undefined;
  routerControlUrl: string;
  routerNginxDir: string | undefined;
  announceWebhookUrls: string[];
  notify: NotifyConfig;
};

export type NotifyConfig = {
  /** CIDRs or addresses a webhook/push target may resolve to although they are private */
  privateAllowlist: string[];
  secretOverlapHours: number;
  maxAttempts: number;
  retryBaseMs: number;
  retryMaxMs: number;
  concurrency: number;
  jobConcurrency: number;
  leaseSeconds: number;
  merchantRatePerSecond: number;
  channelRatePerSecond: { webhook: number; email: number; push: number };
  vapid: { publicKey: string; privateKey: string } | undefined;
  vapidSubject: string;
};

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.problems = problems;
  }
}

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
  return pkg.version as string;
}

/** Parses the environment once; lists every invalid variable instead of stopping at the first. */
export function loadConfig(
  source: NodeJS.ProcessEnv = process.env,
  overrides: Partial<Record<keyof Env, string>> = {},
): Config {
  const raw: Record<string, unknown> = {};
  for (const key of Object.keys(Env.properties)) {
    const value = overrides[key as keyof Env] ?? source[key];
    if (value !== undefined && value !== '') raw[key] = value;
  }
  const withDefaults = Value.Default(Env, Value.Convert(Env, raw));
  // one line per invalid variable, quoting what was given
  const problems = new Map<string, string>();
  for (const e of Value.Errors(Env, withDefaults)) {
    const key = e.instancePath.replace(/^\//, '') || 'environment';
    const given = overrides[key as keyof Env] ?? source[key] ?? '';
    if (!problems.has(key)) problems.set(key, `${key}=${JSON.stringify(given)}: ${e.message}`);
  }
  if (problems.size > 0) throw new ConfigError([...problems.values()]);
  const env = withDefaults as Env;
  if (Boolean(env.VAPID_PUBLIC_KEY) !== Boolean(env.VAPID_PRIVATE_KEY)) {
    throw new ConfigError(['VAPID_PUBLIC_KEY, VAPID_PRIVATE_KEY: set both or neither']);
  }
  if (env.NODE_ENV === 'production' && !env.JWT_SECRET) {
    throw new ConfigError(['JWT_SECRET: required (at least 32 characters) when NODE_ENV=production']);
  }
  return {
    env: env.NODE_ENV,
    host: env.HOST,
    port: env.PORT,
    dataDir: path.resolve(env.DATA_DIR),
    databaseUrl: env.DATABASE_URL,
    embeddedPgPort: env.EMBEDDED_PG_PORT,
    embeddedPgMemoryMb: env.EMBEDDED_PG_MEMORY_MB,
    dbPoolMax: env.DB_POOL_MAX,
    jwtSecret: env.JWT_SECRET,
    jwtTtlSeconds: env.JWT_TTL_SECONDS,
    smtpUrl: env.SMTP_URL,
    mailboxPort: env.MAILBOX_PORT,
    mailFrom: env.MAIL_FROM,
    logLevel: env.LOG_LEVEL,
    bodyLimitBytes: env.BODY_LIMIT_BYTES,
    authRateLimitPerMinute: env.AUTH_RATE_LIMIT_PER_MINUTE,
    loginFailuresBeforeLock: env.LOGIN_FAILURES_BEFORE_LOCK,
    workers: env.WORKERS,
    webhookTimeoutMs: env.WEBHOOK_TIMEOUT_MS,
    allowPrivateWebhookTargets: env.ALLOW_PRIVATE_WEBHOOK_TARGETS ?? env.NODE_ENV !== 'production',
    version: env.APP_VERSION ?? packageVersion(),
    shutdownGraceMs: env.SHUTDOWN_GRACE_MS,
    backupDir: path.resolve(env.BACKUP_DIR ?? path.join(env.DATA_DIR, 'backups')),
    backupKeep: env.BACKUP_KEEP,
    backupMethod: env.BACKUP_METHOD,
    backupMaxAgeHours: env.BACKUP_MAX_AGE_HOURS,
    redisUrl: env.REDIS_URL,
    redisKeyPrefix: env.REDIS_KEY_PREFIX,
    tlsCheckHost: env.TLS_CHECK_HOST,
    tlsCertFile: env.TLS_CERT_FILE,
    alertWebhookUrl: env.ALERT_WEBHOOK_URL,
    alertSlackUrl: env.ALERT_SLACK_URL,
    alertPageUrl: env.ALERT_PAGE_URL,
    alertTimeScale: env.ALERT_TIME_SCALE,
    alertsIntervalSeconds: env.ALERTS_INTERVAL_SECONDS,
    faultInjection: parseFaults(env.FAULT_INJECTION),
    routerControlUrl: env.ROUTER_CONTROL_URL.replace(/\/+$/, ''),
    routerNginxDir: env.ROUTER_NGINX_DIR ? path.resolve(env.ROUTER_NGINX_DIR) : undefined,
    announceWebhookUrls: (env.ANNOUNCE_WEBHOOK_URLS ?? '')
      .split(',')
      .map((u) => u.trim())
      .filter(Boolean),
    notify: {
      privateAllowlist: env.WEBHOOK_PRIVATE_ALLOWLIST.split(',')
        .map((s) => s.trim())
        .filter(Boolean),
      secretOverlapHours: env.WEBHOOK_SECRET_OVERLAP_HOURS,
      maxAttempts: env.NOTIFY_MAX_ATTEMPTS,
      retryBaseMs: env.NOTIFY_RETRY_BASE_MS,
      retryMaxMs: env.NOTIFY_RETRY_MAX_MS,
      concurrency: env.NOTIFY_CONCURRENCY,
      jobConcurrency: env.NOTIFY_JOB_CONCURRENCY,
      leaseSeconds: env.NOTIFY_LEASE_SECONDS,
      merchantRatePerSecond: env.NOTIFY_MERCHANT_RATE_PER_SECOND,
      channelRatePerSecond: {
        webhook: env.NOTIFY_WEBHOOK_RATE_PER_SECOND,
        email: env.NOTIFY_EMAIL_RATE_PER_SECOND,
        push: env.NOTIFY_PUSH_RATE_PER_SECOND,
      },
      vapid:
        env.VAPID_PUBLIC_KEY && env.VAPID_PRIVATE_KEY
          ? { publicKey: env.VAPID_PUBLIC_KEY, privateKey: env.VAPID_PRIVATE_KEY }
          : undefined,
      vapidSubject: env.VAPID_SUBJECT,
    },
  };
}

function parseFaults(spec: string | undefined): Config['faultInjection'] {
  if (!spec) return undefined;
  const fields = Object.fromEntries(spec.split(',').map((kv) => kv.split('=') as [string, string]));
  return { errorRate: Number(fields['error'] ?? 0), delayMs: Number(fields['delayMs'] ?? 0) };
}

/** The variables with their defaults, for `swipesavvy config` and the README. */
export function describeConfig(): { name: string; default: unknown }[] {
  return Object.entries(Env.properties).map(([name, schema]) => ({
    name,
    default: (schema as { default?: unknown }).default,
  }));
}

/** The environment handed to child processes the toolkit starts (release instances, commands). */
export function inheritedEnvironment(): NodeJS.ProcessEnv {
  return { ...process.env };
}
