import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buyer, HttpClient, listingBody, supplier } from '@strangler/stack/testing';
import { startTestMonolith, type TestMonolith } from './support/test-monolith.ts';

let app: TestMonolith;
let anon: HttpClient;
beforeAll(async () => {
  app = await startTestMonolith();
  anon = new HttpClient(app.url);
});
afterAll(() => app?.close());

describe('the one error shape', () => {
  it('when the JSON is malformed, then 400 malformed_json and no parser details', async () => {
    const res = await anon.request('POST', '/api/auth/login', { body: '{"email": ', headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: { code: 'malformed_json', message: 'The request body is not valid JSON.' } });
  });

  it('when a write is not JSON, then 415, also for an empty form post', async () => {
    const form = await anon.request('POST', '/api/auth/login', {
      body: 'email=a&password=b',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(form.status).toBe(415);
    expect(form.body.error.code).toBe('unsupported_media_type');
    const { client } = await buyer(app);
    const emptyForm = await client.request('POST', '/api/auth/logout', { headers: { 'content-type': 'text/plain' } });
    expect(emptyForm.status).toBe(415);
    expect((await client.get('/api/auth/me')).status).toBe(200);
  });

  it('when the body is over the limit, then 413 and nothing is written', async () => {
    const s = await supplier(app);
    const res = await s.client.post('/api/listings', listingBody({ description: 'x'.repeat(120 * 1024) }));
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('payload_too_large');
    expect((await s.client.get(`/api/listings?supplierId=${s.supplier.id}`)).body.total).toBe(0);
  });

  it('when an API path does not exist, then 404 not_found in the API shape', async () => {
    const res = await anon.get('/api/nope');
    expect(res.status).toBe(404);
    expect(res.body.error).toEqual({ code: 'not_found', message: 'No API endpoint GET /api/nope.' });
  });

  it('when the JSON body is not an object, then 400, never a 500', async () => {
    for (const body of ['null', '[]', '"text"', '42']) {
      const res = await anon.request('POST', '/api/auth/login', { body, headers: { 'content-type': 'application/json' } });
      expect(res.status, body).toBe(400);
    }
  });

  it('when the database fails mid-request, then 500 internal_error with no stack or SQL', async () => {
    const s = await supplier(app);
    await app.db.query('ALTER TABLE listings RENAME TO listings_away');
    try {
      const res = await s.client.get('/api/listings');
      expect(res.status).toBe(500);
      expect(res.body).toEqual({ error: { code: 'internal_error', message: 'Something went wrong on our side; try again.' } });
    } finally {
      await app.db.query('ALTER TABLE listings_away RENAME TO listings');
    }
  });

  it('when a request line is garbage, then the server answers 400 and keeps serving', async () => {
    const port = Number(new URL(app.url).port);
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => socket.write('GARBAGE\r\n\r\n'));
      let data = '';
      socket.on('data', (d) => (data += d));
      socket.on('close', () => resolve(data));
      socket.on('error', reject);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 400/);
    expect((await anon.get('/healthz')).status).toBe(200);
  });
});

describe('response headers', () => {
  it('when anything is served, then security headers are set and the framework is not announced', async () => {
    for (const path of ['/', '/api/listings', '/assets/app.css']) {
      const res = await anon.get(path);
      expect(res.headers.get('content-security-policy'), path).toContain("default-src 'self'");
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('x-powered-by')).toBeNull();
    }
    expect((await anon.get('/api/listings')).headers.get('cache-control')).toBe('no-store');
  });
});
