import type { PoolClient } from 'pg';
import { type Db, withTransaction } from '../../platform/db.ts';
import * as analyticsRepo from '../analytics/analytics.repo.ts';
import { hashPassword } from '../auth/password.ts';
import { insertCampaign, type NewCampaign, replaceVariants } from '../campaigns/campaigns.repo.ts';
import { insertMerchant } from '../merchants/merchants.repo.ts';
import { insertUser } from '../users/users.repo.ts';
import * as repo from './demo.repo.ts';

export const DEMO_OWNER = { email: 'demo@swipesavvy.local', password: 'swipesavvy-demo', name: 'Dana Demo' };

const NETWORK: [name: string, category: string, city: string, tags: string[]][] = [
  ['Bean There Coffee', 'coffee', 'Lisbon', ['espresso', 'breakfast']],
  ['Grão Dourado', 'bakery', 'Lisbon', ['pastries', 'bread']],
  ['Mercado Fresco', 'grocery', 'Lisbon', ['organic', 'local']],
  ['Tasca do Bairro', 'restaurant', 'Lisbon', ['portuguese', 'dinner']],
  ['Porto Pedal', 'fitness', 'Porto', ['cycling', 'classes']],
  ['Livraria Norte', 'books', 'Porto', ['used books', 'events']],
  ['Ribeira Wines', 'restaurant', 'Porto', ['wine bar', 'tapas']],
  ['Café Central Madrid', 'coffee', 'Madrid', ['espresso', 'wifi']],
  ['Moda Sol', 'fashion', 'Madrid', ['apparel', 'sustainable']],
  ['TecnoPunto', 'electronics', 'Madrid', ['phones', 'repairs']],
  ['Forn de Gràcia', 'bakery', 'Barcelona', ['croissants', 'coffee']],
  ['Barceloneta Surf Shop', 'sports', 'Barcelona', ['surf', 'rentals']],
  ['Farmàcia Nova', 'pharmacy', 'Barcelona', ['health', 'beauty']],
  ['Kiez Kaffee', 'coffee', 'Berlin', ['specialty', 'roastery']],
  ['Späti Plus', 'grocery', 'Berlin', ['late night', 'drinks']],
  ['Spree Fitness', 'fitness', 'Berlin', ['gym', 'yoga']],
  ['Grachten Boeken', 'books', 'Amsterdam', ['english books', 'comics']],
  ['Fietsfabriek', 'sports', 'Amsterdam', ['bikes', 'repairs']],
  ['De Kaaskamer', 'grocery', 'Amsterdam', ['cheese', 'deli']],
  ['Noord Noodles', 'restaurant', 'Amsterdam', ['asian', 'delivery']],
];

const CITIES: [string, number][] = [
  ['Lisbon', 0.34],
  ['Porto', 0.22],
  ['Madrid', 0.18],
  ['Barcelona', 0.14],
  ['Berlin', 0.12],
];
const AGE_BANDS: [string, number][] = [
  ['18-24', 0.16],
  ['25-34', 0.31],
  ['35-44', 0.24],
  ['45-54', 0.16],
  ['55+', 0.13],
];
const DEVICES: [string, number][] = [
  ['ios', 0.46],
  ['android', 0.44],
  ['web', 0.1],
];
const TIERS: [string, number][] = [
  ['bronze', 0.5],
  ['silver', 0.3],
  ['gold', 0.15],
  ['platinum', 0.05],
];

type DemoCampaign = NewCampaign & {
  launched?: { daysAgo: number; ctr: Record<string, number>; cvr: number; avgTicket: number };
};

const CAMPAIGNS: DemoCampaign[] = [
  {
    name: 'Morning Coffee Cashback',
    channel: 'email',
    status: 'running',
    budget: 2500,
    unitCost: 0.002,
    rewardRate: 0.05,
    holdoutPct: 10,
    description: '5 % cashback on any coffee before 10:00',
    variants: [
      {
        name: 'A',
        weight: 50,
        content: { subject: 'Your morning coffee pays you back', body: '5 % back before 10:00.' },
      },
      {
        name: 'B',
        weight: 50,
        content: { subject: '☕ 5 % back on coffee, every morning', body: 'Cashback, automatic.' },
      },
    ],
    launched: { daysAgo: 12, ctr: { A: 0.061, B: 0.083 }, cvr: 0.31, avgTicket: 6.4 },
  },
  {
    name: 'Weekend Brunch 2-for-1',
    channel: 'email',
    status: 'completed',
    budget: 1800,
    unitCost: 0.002,
    rewardRate: 0.12,
    segment: { ageBand: ['25-34', '35-44'] },
    variants: [
      {
        name: 'A',
        weight: 1,
        content: { subject: 'Brunch for two, pay for one', body: 'Saturday and Sunday.' },
      },
    ],
    launched: { daysAgo: 25, ctr: { A: 0.072 }, cvr: 0.22, avgTicket: 38 },
  },
  {
    name: 'Gold Tier Upgrade',
    channel: 'email',
    status: 'running',
    budget: 4000,
    unitCost: 0.002,
    rewardRate: 0.08,
    segment: { tier: ['silver', 'gold'] },
    holdoutPct: 15,
    variants: [
      { name: 'control', weight: 1, content: { subject: 'You are close to Gold', body: 'Two more visits.' } },
      {
        name: 'urgency',
        weight: 1,
        content: { subject: 'Gold status expires Sunday', body: 'Two visits left.' },
      },
    ],
    launched: { daysAgo: 6, ctr: { control: 0.054, urgency: 0.058 }, cvr: 0.27, avgTicket: 21 },
  },
  {
    name: 'Rainy Day Delivery',
    channel: 'email',
    status: 'paused',
    budget: 900,
    unitCost: 0.002,
    rewardRate: 0.1,
    segment: { city: ['Lisbon', 'Porto'] },
    variants: [
      { name: 'A', weight: 1, content: { subject: 'Rain? We deliver.', body: 'Free delivery today.' } },
    ],
    launched: { daysAgo: 9, ctr: { A: 0.035 }, cvr: 0.12, avgTicket: 17 },
  },
  {
    name: 'New Pastry Launch',
    channel: 'email',
    status: 'draft',
    budget: 600,
    variants: [{ name: 'A', weight: 1, content: { subject: 'Meet the pastel de nata 2.0' } }],
  },
  {
    name: 'Back to Office Bundle',
    channel: 'webhook',
    status: 'scheduled',
    budget: 1200,
    startsAt: new Date(Date.now() + 3 * 86_400_000).toISOString(),
    variants: [{ name: 'A', weight: 1, content: { subject: 'Lunch bundle for your team' } }],
  },
];

/** mulberry32: a small seeded generator, so the demo data set is the same on every run. */
function random(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function pick(rand: () => number, weighted: [string, number][]): string {
  let r = rand();
  for (const [value, weight] of weighted) {
    r -= weight;
    if (r <= 0) return value;
  }
  return weighted.at(-1)![0];
}

function hashShare(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return (h >>> 0) / 4_294_967_296;
}

export type SeedOptions = {
  customers: number;
  reset: boolean;
  onPhase?: (name: string) => void;
  onProgress?: (label: string, done: number, total: number) => void;
};

export class DemoExistsError extends Error {}

export type SeedResult = {
  merchantId: string;
  owner: typeof DEMO_OWNER;
  customers: number;
  campaigns: number;
  notifications: number;
  events: number;
  transactions: number;
  attributed: number;
};

/** A realistic demo data set: a merchant network, a demo merchant with staff, customers, campaigns, events and sales. */
export async function seedDemo(db: Db, options: SeedOptions): Promise<SeedResult> {
  // all or nothing: a failed seed leaves the database as it was
  return withTransaction(db, (client) => seedDemoIn(client, options));
}

async function seedDemoIn(db: PoolClient, options: SeedOptions): Promise<SeedResult> {
  const rand = random(20251231);
  const existing = await repo.demoMerchantIds(
    db,
    DEMO_OWNER.email,
    NETWORK.map((n) => n[0]),
  );
  if (existing.length > 0) {
    if (!options.reset) throw new DemoExistsError('The demo data set is there already; --reset replaces it');
    await repo.deleteMerchants(db, existing);
  }
  const passwordHash = await hashPassword(DEMO_OWNER.password);

  for (const [name, category, city, tags] of NETWORK) {
    await insertMerchant(db, { name, category, city, tags, description: `${category} in ${city}` });
  }
  const merchant = await insertMerchant(db, {
    name: 'SwipeSavvy Demo Café',
    category: 'coffee',
    city: 'Lisbon',
    tags: ['demo', 'coffee', 'brunch'],
    description: 'The demo merchant of the SwipeSavvy quick start',
  });
  const owner = await insertUser(db, { merchantId: merchant.id, ...DEMO_OWNER, passwordHash, role: 'owner' });
  for (const [email, name, role] of [
    ['analyst@swipesavvy.local', 'Ana Analyst', 'analyst'],
    ['viewer@swipesavvy.local', 'Victor Viewer', 'viewer'],
  ] as const) {
    await insertUser(db, { merchantId: merchant.id, email, name, role, passwordHash });
  }
  const merchantId = merchant.id;
  const ownerId = owner.id;

  options.onPhase?.('customers');
  const customers: {
    id: string;
    city: string;
    ageBand: string;
    device: string;
    tier: string;
    email: string;
  }[] = [];
  for (let start = 0; start < options.customers; start += 5000) {
    const batch = Array.from({ length: Math.min(5000, options.customers - start) }, (_, k) => {
      const i = start + k;
      return {
        externalId: `demo-${String(i).padStart(7, '0')}`,
        email: `customer${i}@demo.swipesavvy.local`,
        city: pick(rand, CITIES),
        ageBand: pick(rand, AGE_BANDS),
        device: pick(rand, DEVICES),
        tier: pick(rand, TIERS),
        createdAt: new Date(Date.now() - (40 + rand() * 300) * 86_400_000),
      };
    });
    const ids = await repo.insertCustomers(db, merchantId, batch);
    for (const [k, row] of ids.entries()) customers.push({ id: row.id, ...batch[k]! });
    options.onProgress?.('customers', customers.length, options.customers);
  }

  let notifications = 0;
  let events = 0;
  const transactions: analyticsRepo.TransactionRow[] = [];
  for (const [index, demo] of CAMPAIGNS.entries()) {
    const { launched: plan, ...body } = demo;
    const campaignId = await insertCampaign(db, merchantId, ownerId, body);
    await replaceVariants(db, campaignId, body.variants ?? [{ name: 'A', weight: 1 }]);
    if (!plan) continue;
    options.onPhase?.(`campaign ${index + 1}/${CAMPAIGNS.length}: ${body.name}`);
    const variants = body.variants!;
    const totalWeight = variants.reduce((s, v) => s + v.weight, 0);
    // the holdout rule is the database's, as for real sends
    const treated = await repo.treatedCustomers(db, campaignId, body.holdoutPct ?? 0);
    const audience = customers.filter(
      (c) =>
        (!body.segment?.city || body.segment.city.includes(c.city)) &&
        (!body.segment?.ageBand || body.segment.ageBand.includes(c.ageBand)) &&
        (!body.segment?.tier || body.segment.tier.includes(c.tier)) &&
        treated.has(c.id),
    );
    const sentAt = new Date(Date.now() - plan.daysAgo * 86_400_000);
    const recipients = audience.map((c) => {
      const variant = pick(
        () => hashShare(`${c.id}:${campaignId}`),
        variants.map((v) => [v.name, v.weight / totalWeight]),
      );
      return { customerId: c.id, address: c.email, variant, delivered: rand() > 0.006, customer: c };
    });
    await repo.insertDeliveredSend(db, { merchantId, campaignId, userId: ownerId, sentAt, recipients });
    notifications += recipients.length;

    const batch: analyticsRepo.EventRow[] = [];
    const flush = async () => {
      if (batch.length === 0) return;
      events += await analyticsRepo.insertEvents(db, merchantId, JSON.stringify({ events: batch.splice(0) }));
    };
    for (const [k, r] of recipients.entries()) {
      if (!r.delivered || rand() > 0.92) continue;
      const seenAt = new Date(sentAt.getTime() + rand() * 36 * 3_600_000);
      const event = (type: string, at: Date) =>
        batch.push({
          id: `${campaignId}:${r.customerId}:${type}`,
          type,
          campaignId,
          variant: r.variant,
          customerId: r.customerId,
          at: at.toISOString(),
        });
      event('impression', seenAt);
      if (rand() < 0.45) event('open', new Date(seenAt.getTime() + 60_000));
      // segments respond differently: younger, mobile and higher tiers click more
      const lift =
        (r.customer.ageBand === '18-24' || r.customer.ageBand === '25-34' ? 1.25 : 0.9) *
        (r.customer.device === 'web' ? 0.7 : 1.05) *
        (r.customer.tier === 'gold' || r.customer.tier === 'platinum' ? 1.3 : 1);
      if (rand() < (plan.ctr[r.variant] ?? 0.05) * lift) {
        const clickAt = new Date(seenAt.getTime() + 5 * 60_000);
        event('click', clickAt);
        if (rand() < plan.cvr) {
          const buyAt = new Date(clickAt.getTime() + rand() * 3 * 86_400_000);
          event('conversion', buyAt);
          transactions.push({
            id: `demo-tx-${campaignId.slice(0, 8)}-${k}`,
            customerId: r.customerId,
            amount: Math.round(plan.avgTicket * (0.5 + rand()) * 100) / 100,
            currency: 'EUR',
            at: new Date(Math.min(buyAt.getTime() + 60_000, Date.now() - 60_000)).toISOString(),
          });
        }
      }
      if (batch.length >= 5000) await flush();
      if (k % 1000 === 0) options.onProgress?.('events', k, recipients.length);
    }
    await flush();
    options.onProgress?.('events', recipients.length, recipients.length);
  }

  // Sales nobody's campaign can claim: the baseline against which campaigns are judged.
  const organic = Math.round(customers.length * 0.6);
  for (let i = 0; i < organic; i++) {
    const c = customers[Math.floor(rand() * customers.length)]!;
    transactions.push({
      id: `demo-tx-organic-${i}`,
      customerId: c.id,
      amount: Math.round((3 + rand() * 30) * 100) / 100,
      currency: 'EUR',
      at: new Date(Date.now() - rand() * 30 * 86_400_000).toISOString(),
    });
  }
  transactions.sort((a, b) => a.at.localeCompare(b.at));
  options.onPhase?.('transactions');
  let attributed = 0;
  for (let start = 0; start < transactions.length; start += 5000) {
    const r = await analyticsRepo.insertTransactions(db, merchantId, transactions.slice(start, start + 5000));
    attributed += r.attributed;
    options.onProgress?.('transactions', Math.min(start + 5000, transactions.length), transactions.length);
  }
  return {
    merchantId,
    owner: DEMO_OWNER,
    customers: customers.length,
    campaigns: CAMPAIGNS.length,
    notifications,
    events,
    transactions: transactions.length,
    attributed,
  };
}
