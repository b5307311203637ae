import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { startListingsService } from '@strangler/listings';
import { createLogger, DRY_RUN_HEADER, SessionTokens, type RunningApp } from '@strangler/service-kit';
import { createScratchDatabase, freePort, type ScratchDatabase } from '@strangler/stack';
import { HttpClient } from '@strangler/stack/testing';
import type {} from '@strangler/stack/testing/provided-context';
import { loadConfig } from '../src/config.ts';
import { startOrdersService } from '../src/orders-service.ts';

const SECRET = 'orders-test-secret-of-at-least-32-characters';
const tokens = new SessionTokens([SECRET]);
const DRY = { [DRY_RUN_HEADER]: '1' };
const scratches: ScratchDatabase[] = [];
const apps: RunningApp[] = [];
let listings: RunningApp;
let orders: RunningApp;
let nextUser = 500;

const common = { port: 0, host: '127.0.0.1', sessionSecrets: [SECRET], shutdownGraceMs: 1000, logLevel: 'silent', redisUrl: undefined };
async function scratch(name: string): Promise<string> {
  const s = await createScratchDatabase(inject('pgServerUrl'), name);
  scratches.push(s);
  return s.url;
}
const as = (url: string, role: 'buyer' | 'supplier', id = nextUser++): HttpClient => {
  const c = new HttpClient(url);
  c.cookie = `cacao_session=${tokens.issue({ id, role }).token}`;
  return c;
};

beforeAll(async () => {
  listings = await startListingsService(
    { ...common, databaseUrl: await scratch('orders_test_listings') },
    createLogger('listings', 'silent'),
  );
  // No proxy here: the listings service itself stands where the proxy would.
  orders = await startOrdersService(
    { ...common, databaseUrl: await scratch('orders_test'), apiBaseUrl: listings.url },
    createLogger('orders', 'silent'),
  );
  apps.push(orders, listings);
});
afterAll(async () => {
  for (const a of apps) await a.close();
  for (const s of scratches) await s.drop();
});

async function aListing(stockKg = 100): Promise<number> {
  const s = as(listings.url, 'supplier');
  await s.post('/api/suppliers', { name: `Finca ${nextUser}`, country: 'Peru', region: 'Piura' });
  const res = await s.post('/api/listings', {
    title: 'Piura',
    originCountry: 'Peru',
    originRegion: 'Piura',
    variety: 'criollo',
    grade: 'A',
    pricePerKgCents: 1000,
    currency: 'USD',
    stockKg,
    minOrderKg: 10,
    harvestDate: '2026-01-01',
  });
  return res.body.listing.id;
}
const stockOf = async (id: number): Promise<number> => (await new HttpClient(listings.url).get(`/api/listings/${id}`)).body.listing.stockKg;

describe('the orders service', () => {
  it('when a buyer orders, then the stock is reserved on the listings side as that buyer, and the order id is from the service range', async () => {
    const id = await aListing();
    const res = await as(orders.url, 'buyer').post('/api/orders', { items: [{ listingId: id, quantityKg: 10 }] });
    expect(res.status).toBe(201);
    expect(res.body.order.id).toBeGreaterThanOrEqual(1_000_000_000);
    expect(await stockOf(id)).toBe(90);
  });

  it('when an order is a dry run, then it answers as usual and neither the order nor the stock is kept', async () => {
    const id = await aListing();
    const buyer = as(orders.url, 'buyer');
    const res = await buyer.post('/api/orders', { items: [{ listingId: id, quantityKg: 10 }] }, DRY);
    expect(res.status).toBe(201);
    expect(res.body.order.items[0]).toMatchObject({ listingId: id, quantityKg: 10, unitPriceCents: 1000 });
    expect((await buyer.get('/api/orders')).body.total).toBe(0);
    expect(await stockOf(id)).toBe(100);
  });

  it('when the listings side cannot be reached, then 503 service_unavailable with Retry-After, and nothing is kept', async () => {
    const port = await freePort();
    const cut = await startOrdersService(
      { ...common, databaseUrl: await scratch('orders_test_cut'), apiBaseUrl: `http://127.0.0.1:${port}` },
      createLogger('orders', 'silent'),
    );
    apps.unshift(cut);
    const buyer = as(cut.url, 'buyer');
    const res = await buyer.post('/api/orders', { items: [{ listingId: 1, quantityKg: 10 }] });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(res.body.error).toEqual({ code: 'service_unavailable', message: 'Stock is briefly unavailable; try again in a moment.' });
    expect((await buyer.get('/api/orders')).body.total).toBe(0);
  });

  it('when API_BASE_URL is missing, then the configuration error says what it is for', () => {
    expect(() => loadConfig({ DATABASE_URL: 'postgres://x/orders', SESSION_SECRET: SECRET })).toThrow(
      /API_BASE_URL is required: the strangler proxy/,
    );
  });
});
