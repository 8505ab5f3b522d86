import { AppError } from './errors.ts';

export type Cursor = { createdAt: string; id: string };

export function encodeCursor(row: { createdAt: Date | string; id: string }): string {
  const createdAt = row.createdAt instanceof Date ? row.createdAt.toISOString() : row.createdAt;
  return Buffer.from(JSON.stringify([createdAt, row.id])).toString('base64url');
}

export function decodeCursor(cursor: string | undefined): Cursor | undefined {
  if (cursor === undefined) return undefined;
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [string, string];
    if (
      typeof createdAt === 'string' &&
      !Number.isNaN(Date.parse(createdAt)) &&
      /^[0-9a-f-]{36}$/i.test(String(id))
    ) {
      return { createdAt, id };
    }
  } catch {}
  throw new AppError('INVALID_CURSOR', 'The cursor is not one this API returned');
}

/** Fetches limit + 1 rows to know whether there is a next page. */
export function page<T extends { createdAt: Date | string; id: string }>(rows: T[], limit: number) {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return { items, nextCursor: rows.length > limit && last ? encodeCursor(last) : null };
}
