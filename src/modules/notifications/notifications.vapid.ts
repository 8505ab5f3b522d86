import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import webpush from 'web-push';
import type { Config } from '../../platform/config.ts';
import type { VapidDetails } from './notifications.channels.ts';

/**
 * The VAPID key pair: from config in production; on the embedded default generated once and kept
 * in DATA_DIR, so subscriptions made against the public key keep working across restarts and the
 * API and worker processes sign with the same key. Read lazily: only push needs it.
 */
export function vapidKeys(config: Config): () => VapidDetails {
  let keys: VapidDetails | undefined;
  return () => {
    keys ??= { subject: config.notify.vapidSubject, ...(config.notify.vapid ?? localKeys(config.dataDir)) };
    return keys;
  };
}

function localKeys(dataDir: string): { publicKey: string; privateKey: string } {
  const file = path.join(dataDir, 'vapid.json');
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  mkdirSync(dataDir, { recursive: true });
  const generated = webpush.generateVAPIDKeys();
  try {
    // 'wx': when two processes start together, the first key written wins and both use it
    writeFileSync(file, JSON.stringify(generated, null, 2), { mode: 0o600, flag: 'wx' });
    return generated;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return JSON.parse(readFileSync(file, 'utf8'));
  }
}
