import Value from 'typebox/value';
import type { Db } from '../../platform/db.ts';
import { AppError, PgErrors, pgErrorCode } from '../../platform/errors.ts';
import { decodeCursor, page } from '../../platform/pagination.ts';
import * as repo from './customers.repo.ts';
import { CustomerInput, type ListQuery, MAX_IMPORT } from './customers.schema.ts';

export async function createCustomer(db: Db, merchantId: string, input: CustomerInput) {
  try {
    return await repo.insertCustomer(db, merchantId, input);
  } catch (error) {
    if (pgErrorCode(error) === PgErrors.uniqueViolation) {
      throw new AppError(
        'CUSTOMER_EXTERNAL_ID_TAKEN',
        `A customer with externalId ${input.externalId} exists`,
        {
          cause: error,
        },
      );
    }
    throw error;
  }
}

/**
 * Imports a batch: every item is validated on its own; valid items are upserted by external id
 * in one transaction, invalid ones are refused with their index and reason.
 */
export async function importCustomers(db: Db, merchantId: string, items: unknown[]) {
  if (items.length > MAX_IMPORT) {
    throw new AppError('BATCH_TOO_LARGE', `At most ${MAX_IMPORT} customers per import, got ${items.length}`);
  }
  const refused: { index: number; code: string; reason: string }[] = [];
  const valid: CustomerInput[] = [];
  const seen = new Set<string>();
  items.forEach((item, index) => {
    const errors = [...Value.Errors(CustomerInput, item)];
    if (errors.length > 0) {
      const e = errors[0]!;
      refused.push({ index, code: 'VALIDATION_FAILED', reason: `${e.instancePath || '/'} ${e.message}` });
      return;
    }
    const c = item as CustomerInput;
    if (c.externalId !== undefined) {
      if (seen.has(c.externalId)) {
        refused.push({
          index,
          code: 'DUPLICATE_IN_BATCH',
          reason: `externalId ${c.externalId} repeats in this batch`,
        });
        return;
      }
      seen.add(c.externalId);
    }
    valid.push(c);
  });
  let created = 0;
  let updated = 0;
  const client = await db.connect();
  try {
    await client.query('BEGIN');
    for (const c of valid) {
      if (await repo.upsertCustomer(client, merchantId, c)) created++;
      else updated++;
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
  return { created, updated, refused };
}

export async function getCustomer(db: Db, merchantId: string, id: string) {
  const customer = await repo.findCustomer(db, merchantId, id);
  if (!customer) throw new AppError('CUSTOMER_NOT_FOUND', `No customer ${id}`);
  return customer;
}

export async function listCustomers(db: Db, merchantId: string, q: ListQuery) {
  const rows = await repo.listCustomers(db, merchantId, { ...q, cursor: decodeCursor(q.cursor) });
  return page(rows, q.limit);
}

export async function unsubscribeCustomer(db: Db, merchantId: string, id: string) {
  const customer = await repo.unsubscribe(db, merchantId, id);
  if (!customer) throw new AppError('CUSTOMER_NOT_FOUND', `No customer ${id}`);
  return customer;
}
