import { inject } from 'vitest';
import { createLogger, SessionTokens, type Role } from '@strangler/service-kit';
import { createScratchDatabase } from '@strangler/stack';
import { HttpClient } from '@strangler/stack/testing';
import type {} from '@strangler/stack/testing/provided-context';
import { startListingsService, type RunningListings } from '../src/listings-service.ts';

const SECRET = 'listings-test-secret-of-at-least-32-chars';
const tokens = new SessionTokens([SECRET]);
let nextUser = 1;

/** The listings service on a scratch database, and clients holding sessions minted with its key. */
export async function startTestListings(): Promise<RunningListings & { as(role: Role): HttpClient; drop(): Promise<void> }> {
  const scratch = await createScratchDatabase(inject('pgServerUrl'), 'listings_test');
  const running = await startListingsService(
    {
      databaseUrl: scratch.url,
      port: 0,
      host: '127.0.0.1',
      sessionSecrets: [SECRET],
      shutdownGraceMs: 1000,
      logLevel: 'silent',
      redisUrl: undefined,
    },
    createLogger('listings', 'silent'),
  );
  return {
    ...running,
    as(role) {
      const client = new HttpClient(running.url);
      client.cookie = `cacao_session=${tokens.issue({ id: nextUser++, role }).token}`;
      return client;
    },
    async drop() {
      await running.close();
      await scratch.drop();
    },
  };
}

/** A supplier client with a profile, and a listing of theirs. */
export async function supplierWithListing(svc: Awaited<ReturnType<typeof startTestListings>>, fields: Record<string, unknown> = {}) {
  const client = svc.as('supplier');
  await client.post('/api/suppliers', { name: `Finca ${Math.random().toString(36).slice(2)}`, country: 'Peru', region: 'Piura' });
  const res = await client.post('/api/listings', {
    title: 'Piura criollo',
    originCountry: 'Peru',
    originRegion: 'Piura',
    variety: 'criollo',
    grade: 'Fine flavour',
    pricePerKgCents: 1200,
    currency: 'USD',
    stockKg: 100,
    minOrderKg: 10,
    harvestDate: '2026-03-01',
    ...fields,
  });
  if (res.status !== 201) throw new Error(`listing failed: ${res.status} ${JSON.stringify(res.body)}`);
  return { client, listing: res.body.listing as { id: number; stockKg: number; title: string } };
}
