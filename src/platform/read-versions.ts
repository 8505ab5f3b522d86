import type { Queryable } from './db.ts';

/**
 * The merchant's read version (migrations 071, 072, 073): bumped in the same transaction by every
 * statement that changes its campaigns or the rollups its reads use (daily, totals, merchant days),
 * TRUNCATE included.
 */
export async function readVersion(db: Queryable, merchantId: string): Promise<string> {
  const { rows } = await db.query<{ version: string }>({
    name: 'merchant-read-version',
    // the table's file (a restore creates the table anew, not from the archive, and TRUNCATE
    // gives it a new file: its counters may start again from 0) and the sum of the merchant's
    // stripes; as text: compared, never added
    text: `SELECT pg_relation_filenode('merchant_read_versions')::text || ':' || coalesce(sum(version), 0) AS version
             FROM merchant_read_versions WHERE merchant_id = $1`,
    values: [merchantId],
  });
  return rows[0]!.version;
}

const DAY_MS = 86_400_000;

/**
 * Responses computed from nothing but a merchant's campaigns (variants included) and rollups,
 * kept in this process and given again only while the merchant's read version in the database is
 * still the one read before they were computed (and, with `byDay`, only on the UTC day they were
 * computed, for what counts days back from today). Every request reads the version, so a write
 * committed anywhere (another replica, a job, SQL by hand) is seen by the next read: a reader is
 * never answered from data older than its own read of the version. What `compute` throws (a 404)
 * is not kept. At most `size` entries; the oldest goes first. Kept as the bytes sent, so a hit is
 * not encoded again.
 */
export function createVersionedCache(options: { size?: number; byDay?: boolean } = {}) {
  const size = options.size ?? 1_000;
  const entries = new Map<string, { version: string; day: number; body: Buffer }>();
  return {
    async get(
      db: Queryable,
      merchantId: string,
      key: string,
      compute: () => Promise<string>,
    ): Promise<Buffer> {
      // the version first: data read after it are as new as it, or newer
      const version = await readVersion(db, merchantId);
      const now = Date.now();
      const day = options.byDay ? Math.floor(now / DAY_MS) : 0;
      const id = `${merchantId} ${key}`;
      const hit = entries.get(id);
      if (hit && hit.version === version && hit.day === day) return hit.body;
      const body = Buffer.from(await compute());
      // not in the day's first second: what is computed then may still count from the day before
      if (!options.byDay || now - day * DAY_MS >= 1_000) {
        entries.delete(id);
        entries.set(id, { version, day, body });
        if (entries.size > size) entries.delete(entries.keys().next().value!);
      }
      return body;
    },
  };
}
