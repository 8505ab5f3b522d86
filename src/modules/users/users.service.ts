import type { Db } from '../../platform/db.ts';
import { withTransaction } from '../../platform/db.ts';
import { AppError, PgErrors, pgErrorCode } from '../../platform/errors.ts';
import type { Principal, Role } from '../auth/auth.plugin.ts';
import { dummyPasswordHash, hashPassword, verifyPassword } from '../auth/password.ts';
import { insertMerchant } from '../merchants/merchants.repo.ts';
import type { Notifier } from '../notifications/notifications.service.ts';
import * as repo from './users.repo.ts';
import type { CreateUserBody, SignupBody } from './users.schema.ts';

const LOCK_WINDOW_MS = 15 * 60_000;

/**
 * Failed logins per account, in process: after `limit` failures in the window the account answers
 * 429 until the window ends, whichever address the attempts come from.
 */
export class LoginThrottle {
  readonly #failures = new Map<string, { count: number; since: number }>();
  readonly #limit: number;
  constructor(limit: number) {
    this.#limit = limit;
  }
  assertOpen(email: string): void {
    const entry = this.#failures.get(email);
    if (!entry) return;
    if (Date.now() - entry.since > LOCK_WINDOW_MS) {
      this.#failures.delete(email);
      return;
    }
    if (entry.count >= this.#limit) {
      const retryAfter = Math.ceil((entry.since + LOCK_WINDOW_MS - Date.now()) / 1000);
      throw new AppError('AUTH_ACCOUNT_LOCKED', `Too many failed logins; try again in ${retryAfter} s`, {
        details: { retryAfterSeconds: retryAfter },
      });
    }
  }
  fail(email: string): void {
    const entry = this.#failures.get(email);
    if (entry && Date.now() - entry.since <= LOCK_WINDOW_MS) entry.count++;
    else this.#failures.set(email, { count: 1, since: Date.now() });
    if (this.#failures.size > 100_000) this.#failures.delete(this.#failures.keys().next().value!);
  }
  succeed(email: string): void {
    this.#failures.delete(email);
  }
}

function emailTaken(error: unknown, email: string): never {
  if (pgErrorCode(error) === PgErrors.uniqueViolation) {
    throw new AppError('USER_EMAIL_TAKEN', `An account with ${email} exists already`, { cause: error });
  }
  throw error;
}

export function createUsersService(db: Db, notifier: Notifier, throttle: LoginThrottle) {
  return {
    /** A new merchant with its owner; the welcome email is queued in the same transaction. */
    async signup(input: SignupBody) {
      const email = input.email.toLowerCase();
      const passwordHash = await hashPassword(input.password);
      return withTransaction(db, async (client) => {
        const merchant = await insertMerchant(client, {
          name: input.merchantName ?? `${input.name}'s business`,
          category: input.merchantCategory,
          city: input.merchantCity,
          // a new merchant joins the network directory when it chooses to (PUT /api/merchants/me)
          listed: false,
        });
        const user = await repo
          .insertUser(client, {
            merchantId: merchant.id,
            email,
            passwordHash,
            name: input.name,
            role: 'owner',
          })
          .catch((e) => emailTaken(e, email));
        const welcome = await notifier.queueSystemEmail(client, merchant.id, email, {
          subject: 'Welcome to SwipeSavvy',
          text:
            `Hello ${input.name},\n\nyour SwipeSavvy account for ${merchant.name} is ready. ` +
            'Create your first campaign from the dashboard.\n\nThe SwipeSavvy Team',
        });
        return { ...user, welcomeEmail: { notificationId: welcome.id, status: welcome.status } };
      });
    },

    async login(emailInput: string, password: string) {
      const email = emailInput.toLowerCase();
      throttle.assertOpen(email);
      const user = await repo.findUserForLogin(db, email);
      const ok = await verifyPassword(password, user?.passwordHash ?? (await dummyPasswordHash()));
      if (!user || !ok) {
        throttle.fail(email);
        throw new AppError('AUTH_INVALID_CREDENTIALS', 'Email or password is wrong');
      }
      throttle.succeed(email);
      await repo.recordLogin(db, user.id);
      const { passwordHash: _, ...rest } = user;
      return { ...rest, lastLoginAt: new Date() };
    },

    async get(principal: Principal, id: string) {
      const user = await repo.findUser(db, principal.merchantId, id);
      if (!user) throw new AppError('USER_NOT_FOUND', `No user ${id}`);
      return user;
    },

    list: (principal: Principal) => repo.listUsers(db, principal.merchantId),

    async create(principal: Principal, input: CreateUserBody) {
      if (input.role === 'owner' && principal.role !== 'owner') {
        throw new AppError('FORBIDDEN_ROLE', 'Only an owner may add another owner');
      }
      const email = input.email.toLowerCase();
      const passwordHash = await hashPassword(input.password);
      return repo
        .insertUser(db, {
          merchantId: principal.merchantId,
          email,
          passwordHash,
          name: input.name,
          role: input.role,
        })
        .catch((e) => emailTaken(e, email));
    },

    /** Users change their own settings; owners and admins anyone's in their merchant. */
    async updateSettings(principal: Principal, id: string, patch: Record<string, unknown>) {
      if (id !== principal.userId && principal.role !== 'owner' && principal.role !== 'admin') {
        throw new AppError('FORBIDDEN_ROLE', `The ${principal.role} role may change only its own settings`);
      }
      const settings = await repo.mergeSettings(db, principal.merchantId, id, patch);
      if (!settings) throw new AppError('USER_NOT_FOUND', `No user ${id}`);
      return { settings };
    },

    async setRole(principal: Principal, id: string, role: Role) {
      if (principal.role !== 'owner') throw new AppError('FORBIDDEN_ROLE', 'Only an owner may change roles');
      return withTransaction(db, async (client) => {
        await repo.lockMerchant(client, principal.merchantId);
        const user = await repo.setRole(client, principal.merchantId, id, role);
        if (!user) throw new AppError('USER_NOT_FOUND', `No user ${id}`);
        if ((await repo.countOwners(client, principal.merchantId)) === 0) {
          throw new AppError('FORBIDDEN_ROLE', 'A merchant keeps at least one owner');
        }
        return user;
      });
    },
  };
}
