import { execFileSync } from 'node:child_process';
import { createHmac, randomBytes, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { deleteMerchant } from '../modules/integrity/integrity.service.ts';
import { latestBackup } from './backup.repo.ts';
import { chooseMethod, openArchive } from './backup.service.ts';
import { databaseFacts } from './preflight.repo.ts';
import {
  type Check,
  diskFree,
  fail,
  getJson,
  type PreflightContext,
  pass,
  type Verdict,
  warn,
} from './preflight.ts';
import { runSmoke } from './smoke.ts';
import { PREFLIGHT } from './thresholds.ts';

const SECRET_PATTERNS: { name: string; pattern: RegExp }[] = [
  { name: 'private key', pattern: /-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED )?PRIVATE KEY-----/ },
  { name: 'AWS access key', pattern: /\bAKIA[0-9A-Z]{16}\b/ },
  { name: 'Slack token', pattern: /\bxox[abprs]-[0-9A-Za-z-]{10,}/ },
  { name: 'GitHub token', pattern: /\bgh[pousr]_[0-9A-Za-z]{36}\b/ },
  {
    name: 'URL with a password',
    pattern: /\b(?:postgres(?:ql)?|redis|smtps?|amqp|mysql):\/\/[^:/\s'"@]+:[^@\s'"$]{4,}@/,
  },
  {
    name: 'secret assignment',
    pattern:
      /\b[A-Z0-9_]*(?:SECRET|PASSWORD|API_KEY|TOKEN|PRIVATE_KEY)[A-Z0-9_]*\s*[=:]\s*['"]?[A-Za-z0-9+/_\-.]{16,}/,
  },
];

// What ships and runs in production: tests, benchmarks and docs are not scanned for credentials.
const NOT_RELEASED = /(^|\/)(node_modules|\.git|data|test|bench|docs|coverage)(\/|$)|\.test\.ts$/;

/** The release's files: git's view when it is a repository (tracked and unignored), else a walk. */
export function releaseFiles(dir: string): string[] {
  let files: string[];
  try {
    files = execFileSync('git', ['-C', dir, 'ls-files', '--cached', '--others', '--exclude-standard'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    })
      .split('\n')
      .filter(Boolean);
  } catch {
    files = [];
    const walk = (rel: string) => {
      for (const e of readdirSync(path.join(dir, rel), { withFileTypes: true })) {
        const p = rel ? `${rel}/${e.name}` : e.name;
        if (NOT_RELEASED.test(p)) continue;
        if (e.isDirectory()) walk(p);
        else if (e.isFile()) files.push(p);
      }
    };
    walk('');
  }
  return files.filter((f) => !NOT_RELEASED.test(f) && existsSync(path.join(dir, f)));
}

export function scanForSecrets(dir: string): { file: string; line: number; kind: string }[] {
  const hits: { file: string; line: number; kind: string }[] = [];
  for (const file of releaseFiles(dir)) {
    const full = path.join(dir, file);
    const st = statSync(full);
    if (!st.isFile() || st.size > 1_000_000) continue;
    const text = readFileSync(full, 'utf8');
    if (text.includes('\u0000')) continue;
    text.split('\n').forEach((line, i) => {
      for (const p of SECRET_PATTERNS)
        if (p.pattern.test(line)) hits.push({ file, line: i + 1, kind: p.name });
    });
  }
  return hits;
}

/** Shannon entropy of the string's characters, times its length: a rough count of its random bits. */
function entropyBits(s: string): number {
  const freq = new Map<string, number>();
  for (const c of s) freq.set(c, (freq.get(c) ?? 0) + 1);
  let h = 0;
  for (const n of freq.values()) h -= (n / s.length) * Math.log2(n / s.length);
  return h * s.length;
}

async function certificate(
  ctx: PreflightContext,
): Promise<{ cert: X509Certificate; source: string } | undefined> {
  const { tlsCertFile, tlsCheckHost } = ctx.config;
  if (tlsCertFile) return { cert: new X509Certificate(readFileSync(tlsCertFile)), source: tlsCertFile };
  if (!tlsCheckHost) return undefined;
  const [host, port] = tlsCheckHost.includes(':') ? tlsCheckHost.split(':') : [tlsCheckHost, '443'];
  const cert = await new Promise<X509Certificate>((resolve, reject) => {
    // expiry is what is checked here, so an untrusted chain must still hand over its certificate
    const socket = tlsConnect(
      { host, port: Number(port), servername: host, rejectUnauthorized: false, timeout: 5000 },
      () => {
        const peer = socket.getPeerX509Certificate();
        socket.destroy();
        if (peer) resolve(peer);
        else reject(new Error('no certificate presented'));
      },
    );
    socket.once('error', reject);
    socket.once('timeout', () => {
      socket.destroy();
      reject(new Error('timed out'));
    });
  });
  return { cert, source: tlsCheckHost };
}

function forgedToken(): string {
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const body = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub: randomBytes(8).toString('hex'), mid: 'x', role: 'owner', iat: Math.floor(Date.now() / 1000) })}`;
  return `${body}.${createHmac('sha256', randomBytes(32)).update(body).digest('base64url')}`;
}

export async function securityChecks(ctx: PreflightContext, check: Check) {
  const { config } = ctx;
  await check('secrets.scan', () => {
    const hits = scanForSecrets(ctx.releaseDir);
    const n = releaseFiles(ctx.releaseDir).length;
    return hits.length === 0
      ? pass(`${n} files`, 'no credential found in the release')
      : fail(
          `${hits.length} finding(s)`,
          hits
            .slice(0, 10)
            .map((h) => `${h.file}:${h.line} ${h.kind}`)
            .join('; '),
        );
  });
  await check('secrets.env-files', () => {
    const env = releaseFiles(ctx.releaseDir).filter(
      (f) => /(^|\/)\.env(\.|$)/.test(f) && !/\.(example|sample|template)$/.test(f),
    );
    return env.length === 0
      ? pass('none', 'no .env file in the release')
      : fail(env.join(', '), '.env files ship with the release');
  });
  await check('secrets.file-permissions', () => {
    const candidates = [
      path.join(config.dataDir, 'secrets.json'),
      path.join(config.dataDir, 'embedded-pg.json'),
      ...(existsSync(config.dataDir)
        ? readdirSync(config.dataDir)
            .filter((f) => /\.(pem|key)$|vapid/i.test(f))
            .map((f) => path.join(config.dataDir, f))
        : []),
      ...(existsSync(ctx.releaseDir)
        ? readdirSync(ctx.releaseDir)
            .filter((f) => /^\.env/.test(f))
            .map((f) => path.join(ctx.releaseDir, f))
        : []),
    ].filter((f) => existsSync(f));
    const world = candidates.filter((f) => (statSync(f).mode & 0o004) !== 0);
    const group = candidates.filter((f) => (statSync(f).mode & 0o040) !== 0 && !world.includes(f));
    if (world.length > 0) return fail(world.join(', '), 'world-readable: chmod 600');
    if (group.length > 0) return warn(group.join(', '), 'group-readable');
    return pass(`${candidates.length} file(s)`, 'secret files are readable by their owner only');
  });
  await check('secrets.directories', () => {
    const dirs = [config.dataDir, config.backupDir].filter((d) => existsSync(d));
    const writable = dirs.filter((d) => (statSync(d).mode & 0o002) !== 0);
    const readable = dirs.filter((d) => d === config.backupDir && (statSync(d).mode & 0o004) !== 0);
    if (writable.length > 0) return fail(writable.join(', '), 'world-writable');
    if (readable.length > 0) return warn(readable.join(', '), 'backups are world-readable');
    return pass(dirs.join(', ') || 'none yet', 'not world-writable');
  });
  await check('jwt.strength', () => {
    const file = path.join(config.dataDir, 'secrets.json');
    const secret =
      config.jwtSecret ??
      (existsSync(file)
        ? (JSON.parse(readFileSync(file, 'utf8')) as { jwtSecret?: string }).jwtSecret
        : undefined);
    if (!secret)
      return warn('generated at start', 'no JWT_SECRET: the server generates one in the data directory');
    const bits = Math.round(entropyBits(secret));
    const v = `${secret.length} chars, ~${bits} bits`;
    if (secret.length < 32 || bits < 128) return fail(v, 'too weak for HS256: use 32+ random bytes');
    if (/changeme|password|secret|example|default/i.test(secret)) return warn(v, 'looks like a placeholder');
    return pass(v, 'long and random enough for HS256');
  });
  await check('jwt.source', () =>
    config.env === 'production' && !config.jwtSecret
      ? warn(
          'data directory',
          'production should take JWT_SECRET from the environment (shared by every replica)',
        )
      : pass(config.jwtSecret ? 'JWT_SECRET' : 'data directory', 'where the signing key comes from'),
  );
  await check('tls.certificate', async () => {
    const found = await certificate(ctx);
    if (!found)
      return warn(
        'not configured',
        'set TLS_CHECK_HOST (host:port) or TLS_CERT_FILE to check the certificate',
      );
    const { cert, source } = found;
    const days = Math.floor((new Date(cert.validTo).getTime() - Date.now()) / 86_400_000);
    if (new Date(cert.validFrom).getTime() > Date.now())
      return fail(`valid from ${cert.validFrom}`, `${source}: not yet valid`);
    if (days < 0) return fail(`expired ${cert.validTo}`, `${source}: the certificate has expired`);
    if (days < PREFLIGHT.tlsMinDays)
      return fail(
        `${days} days left`,
        `${source}: expires ${cert.validTo}, within ${PREFLIGHT.tlsMinDays} days`,
      );
    return pass(`${days} days left`, `${source}: ${cert.subject.replace(/\n/g, ', ')}`);
  });
  await check('env.production', () =>
    config.env === 'production'
      ? pass('production', 'NODE_ENV')
      : warn(config.env, 'NODE_ENV is not production'),
  );
  await check('webhooks.private-targets', () =>
    config.env === 'production' && config.allowPrivateWebhookTargets
      ? fail('allowed', 'webhooks may reach private addresses in production (SSRF)')
      : pass(
          config.allowPrivateWebhookTargets ? 'allowed (not production)' : 'refused',
          'webhook targets on private networks',
        ),
  );
  const reachable = await getJson(`${ctx.baseUrl}/api/health`).then(
    () => true,
    () => false,
  );
  const api = async (name: string, run: () => Promise<Verdict>) =>
    check(name, () => (reachable ? run() : Promise.resolve(fail(ctx.baseUrl, 'the API is not reachable'))));
  await api('http.security-headers', async () => {
    const r = await getJson(`${ctx.baseUrl}/api/health`);
    const missing = ['x-content-type-options', 'x-frame-options', 'strict-transport-security'].filter(
      (h) => !r.headers.get(h),
    );
    return missing.length === 0
      ? pass('present', 'helmet headers')
      : warn(missing.join(', '), 'security headers missing');
  });
  await api('ratelimit.active', async () => {
    const r = await getJson(`${ctx.baseUrl}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        email: `preflight-${randomBytes(4).toString('hex')}@example.invalid`,
        password: 'not-the-password',
      }),
    });
    const limit = r.headers.get('x-ratelimit-limit');
    return limit
      ? pass(`${limit}/min`, 'the login endpoint is rate limited')
      : fail('no limit', 'the login endpoint answers without a rate limit');
  });
  await api('auth.required', async () => {
    const r = await getJson(`${ctx.baseUrl}/api/campaigns`);
    return r.status === 401
      ? pass(`${r.status} ${r.body?.code}`, 'no token, no data')
      : fail(r.status, 'answered without a token');
  });
  await api('auth.forged-token', async () => {
    const r = await getJson(`${ctx.baseUrl}/api/campaigns`, {
      headers: { authorization: `Bearer ${forgedToken()}` },
    });
    return r.status === 401
      ? pass(`${r.status} ${r.body?.code}`, 'a token signed with another key is refused')
      : fail(r.status, 'a forged token was accepted');
  });
  await api('auth.end-to-end', async () => {
    const email = `preflight-${randomBytes(5).toString('hex')}@example.test`;
    const password = randomBytes(12).toString('base64url');
    const json = { 'content-type': 'application/json' };
    const signup = await getJson(`${ctx.baseUrl}/api/users/signup`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ email, password, name: 'Preflight', merchantName: 'Preflight check' }),
    });
    if (signup.status !== 201) return fail(signup.status, `signup failed: ${signup.body?.code ?? ''}`);
    try {
      const login = await getJson(`${ctx.baseUrl}/api/auth/login`, {
        method: 'POST',
        headers: json,
        body: JSON.stringify({ email, password }),
      });
      if (login.status !== 200) return fail(login.status, 'login failed');
      const me = await getJson(`${ctx.baseUrl}/api/users/${signup.body.id}`, {
        headers: { authorization: `Bearer ${login.body.token}` },
      });
      return me.status === 200 && me.body.email === email
        ? pass('signup → login → authorized read', 'auth works end to end')
        : fail(me.status, 'the token did not authorize the read');
    } finally {
      await deleteMerchant(ctx.db, signup.body.merchantId).catch(() => {});
    }
  });
}

export async function backupChecks(ctx: PreflightContext, check: Check) {
  const { config } = ctx;
  const facts = await databaseFacts(ctx.db, PREFLIGHT.longTransactionSeconds);
  await check('backup.method', async () => {
    const chosen = await chooseMethod(config.backupMethod, facts.versionNum);
    return pass(
      chosen.method === 'pg_dump' ? `pg_dump ${chosen.tools.major}` : 'COPY archive',
      'how the next backup is made',
    );
  });
  await check('backup.dir-writable', () => {
    mkdirSync(config.backupDir, { recursive: true, mode: 0o700 });
    const probe = path.join(config.backupDir, `.preflight-${process.pid}`);
    writeFileSync(probe, 'ok');
    rmSync(probe);
    return pass(config.backupDir, 'writable');
  });
  await check('backup.space', () => {
    const { free } = diskFree(config.backupDir);
    const v = `${(free / 1024 ** 3).toFixed(1)} GiB free, database ${(facts.sizeBytes / 1024 ** 3).toFixed(2)} GiB`;
    if (free >= 2 * facts.sizeBytes) return pass(v, 'room for two full backups');
    if (free >= facts.sizeBytes) return warn(v, 'room for one backup only');
    return fail(v, 'not enough room for a backup');
  });
  const latest = await latestBackup(ctx.db, { verified: true });
  await check('backup.recent-verified', () => {
    if (!latest) return fail('none', 'no verified backup: run swipesavvy backup --verify');
    const hours = (Date.now() - new Date(latest.createdAt).getTime()) / 3_600_000;
    const v = `${hours.toFixed(1)} h old`;
    return hours <= config.backupMaxAgeHours
      ? pass(v, `verified backup ${latest.path}`)
      : fail(v, `the newest verified backup is older than BACKUP_MAX_AGE_HOURS=${config.backupMaxAgeHours}`);
  });
  await check('backup.archive-intact', async () => {
    if (!latest) return fail('none', 'no verified backup');
    await openArchive(latest.path);
    return pass('checksums match', latest.path);
  });
  await check('backup.restore-drill', () => {
    if (!latest || latest.restoreMs === null) return fail('none', 'no restore drill recorded');
    const s = latest.restoreMs / 1000;
    return s <= PREFLIGHT.restoreDrillMaxSeconds
      ? pass(`${s.toFixed(1)} s`, 'the last restore drill')
      : warn(
          `${s.toFixed(1)} s`,
          `a restore takes longer than the runbook's ${PREFLIGHT.restoreDrillMaxSeconds / 60} minutes`,
        );
  });
  await check('backup.retention', () => {
    const n = existsSync(config.backupDir)
      ? readdirSync(config.backupDir).filter((f) => f.startsWith('swipesavvy-')).length
      : 0;
    return pass(`${n} archive(s), keep ${config.backupKeep}`, 'BACKUP_KEEP');
  });
}

export async function smokeChecks(ctx: PreflightContext, check: Check) {
  const reachable = await getJson(`${ctx.baseUrl}/api/health`).catch((e: Error) => e);
  if (reachable instanceof Error) {
    await check('smoke.reachable', () =>
      fail(ctx.baseUrl, `the smoke suite needs the API: ${reachable.message}`),
    );
    return;
  }
  const report = await runSmoke({
    baseUrl: ctx.baseUrl,
    database: async () => ctx.db,
    budgetScale: ctx.smokeBudgetScale ?? 1,
    cleanup: (merchantId) => deleteMerchant(ctx.db, merchantId),
  });
  for (const r of report.results) {
    await check(`smoke.${r.id} ${r.name}`, () =>
      r.status === 'pass' ? pass(`${r.ms} ms`, `budget ${r.budgetMs} ms`) : fail(`${r.ms} ms`, r.detail),
    );
  }
  await check('smoke.decision', () =>
    report.decision === 'proceed'
      ? pass(`${report.passed}/${report.total}`, 'all smoke tests pass')
      : report.decision === 'review'
        ? warn(`${report.passed}/${report.total}`, 'one smoke test failed: review before proceeding')
        : fail(`${report.passed}/${report.total}`, 'fewer than 19/20: roll back'),
  );
}
