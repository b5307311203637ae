import { randomBytes } from 'node:crypto';
import { hashPassword } from '@strangler/service-kit';
import { HttpClient } from './http-client.ts';
import type { Queryable } from '@strangler/service-kit';

/** What the factories need of the system under test: where to send requests, and the users table (admins cannot register). */
export interface TestApp {
  url: string;
  /** The database holding `users` (the monolith's, until auth is extracted). */
  db: Queryable;
  /** Headers every client of this app sends (a deployment's preview routing). */
  headers?: Readonly<Record<string, string>> | undefined;
}

const unique = (): string => randomBytes(5).toString('hex');
export const PASSWORD = 'correct horse battery';

export interface Actor {
  client: HttpClient;
  user: { id: number; email: string; name: string; role: string };
}

/** A registered, logged-in user (buyer unless said otherwise). */
export async function buyer(app: TestApp, role: 'buyer' | 'supplier' = 'buyer'): Promise<Actor> {
  const client = new HttpClient(app.url, app.headers);
  const res = await client.post('/api/auth/register', {
    email: `${role}-${unique()}@test.example`,
    password: PASSWORD,
    name: `Test ${role}`,
    role,
  });
  if (res.status !== 201) throw new Error(`register failed: ${res.status} ${JSON.stringify(res.body)}`);
  return { client, user: res.body.user };
}

/** A logged-in supplier with a supplier profile. */
export async function supplier(app: TestApp): Promise<Actor & { supplier: { id: number; name: string } }> {
  const actor = await buyer(app, 'supplier');
  const res = await actor.client.post('/api/suppliers', {
    name: `Finca ${unique()}`,
    country: 'Peru',
    region: 'Piura',
    certifications: ['Organic'],
  });
  if (res.status !== 201) throw new Error(`supplier profile failed: ${res.status} ${JSON.stringify(res.body)}`);
  return { ...actor, supplier: res.body.supplier };
}

/** A logged-in admin: admins cannot register, so the row is written directly. */
export async function admin(app: TestApp): Promise<Actor> {
  const email = `admin-${unique()}@test.example`;
  await app.db.query(`INSERT INTO users (email, name, role, password_hash) VALUES ($1, 'Test admin', 'admin', $2)`, [
    email,
    await hashPassword(PASSWORD),
  ]);
  const client = new HttpClient(app.url, app.headers);
  const res = await client.post('/api/auth/login', { email, password: PASSWORD });
  if (res.status !== 200) throw new Error(`admin login failed: ${res.status}`);
  return { client, user: res.body.user };
}

/** A valid listing body; override any field. */
export function listingBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    title: `Piura criollo ${unique()}`,
    originCountry: 'Peru',
    originRegion: 'Piura',
    variety: 'criollo',
    grade: 'Fine flavour',
    pricePerKgCents: 1250,
    currency: 'USD',
    stockKg: 500,
    minOrderKg: 10,
    harvestDate: '2026-03-15',
    description: 'Box-fermented six days.',
    ...overrides,
  };
}

/** A listing created through the API by `owner`. */
export async function listing(owner: Actor, overrides: Record<string, unknown> = {}): Promise<any> {
  const res = await owner.client.post('/api/listings', listingBody(overrides));
  if (res.status !== 201) throw new Error(`listing failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.listing;
}
