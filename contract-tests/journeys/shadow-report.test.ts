import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import demo from '@strangler/monolith/demo-accounts.json' with { type: 'json' };
import { HttpClient } from '@strangler/stack/testing';
import { launchChromium } from '../src/chromium.ts';
import { ADMIN_TOKEN, startSystem, type System } from '../src/system.ts';

let system: System;
let browser: Browser;
beforeAll(async () => {
  [system, browser] = await Promise.all([startSystem('mixed', { seed: true }), launchChromium()]);
});
afterAll(async () => {
  await browser?.close();
  await system?.close();
});

// The engineer's view of shadow traffic: in the mixed state, orders are answered by the monolith
// and mirrored to the orders service. One of the service's rows is made wrong on purpose.
describe('the shadow-diff report page', () => {
  it('when the engineer logs in with the admin token, orders are shadowed and the service answers one field differently, then the card shows the route, the drill-down names the field, and the example shows the two answers side by side', async () => {
    const buyer = new HttpClient(system.url);
    expect((await buyer.post('/api/auth/login', { email: demo.buyer.email, password: demo.buyer.password })).status).toBe(200);
    const mine = (await buyer.get('/api/orders?pageSize=5')).body.items as { id: number }[];
    // Its copy goes out once the monolith has answered: let it finish before the service is broken.
    while (system.proxy.shadowing.mirror.inFlight > 0) await new Promise((r) => setTimeout(r, 20));
    // Changed behind the replicator's back (capture off), as a bug in the service's data would be.
    await system.data.orders.pools.service.query(
      `BEGIN; SELECT set_config('strangler.applying', 'on', true); UPDATE orders SET total_cents = total_cents + 1 WHERE id = $1; COMMIT`.replace(
        '$1',
        String(mine[0]!.id),
      ),
    );
    for (let i = 0; i < 3; i++) for (const o of mine) expect((await buyer.get(`/api/orders/${o.id}`)).status).toBe(200);
    while (system.proxy.shadowing.mirror.inFlight > 0) await new Promise((r) => setTimeout(r, 20));
    await system.proxy.shadowing.recorder.flush();

    const page = await (await browser.newContext()).newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    // The report holds examples of real traffic: without a session the page is the login form.
    await page.goto(`${system.adminUrl}/__strangler/`);
    await page.getByRole('heading', { name: 'Log in' }).waitFor();
    await page.getByLabel('Admin token').fill('not-the-admin-token');
    await page.getByRole('button', { name: 'Log in' }).click();
    expect(await page.getByRole('alert').textContent()).toContain('not this proxy’s ADMIN_TOKEN');
    await page.getByLabel('Admin token').fill(ADMIN_TOKEN);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Shadow traffic' }).waitFor();
    expect(page.url()).toBe(`${system.adminUrl}/__strangler/`);
    const card = page.getByRole('article', { name: 'Route orders' });
    await card.waitFor();
    // The list call and three reads of each order, all mirrored.
    expect(await card.getByRole('definition').first().textContent()).toBe(String(1 + mine.length * 3));
    expect(await card.textContent()).toMatch(/1 fields differ/);

    await card.getByRole('link', { name: 'orders' }).click();
    await page.getByRole('heading', { name: 'Route orders' }).waitFor();
    const row = page.getByRole('table', { name: 'Fields' }).getByRole('row').filter({ hasText: '$.order.totalCents' });
    expect(await row.getByRole('cell').nth(1).textContent()).toBe('differs');
    await row.getByRole('link', { name: 'example' }).click();

    await page.getByRole('heading', { name: `GET /api/orders/${mine[0]!.id}` }).waitFor();
    const diff = page.getByRole('table', { name: 'Differences' }).getByRole('row').filter({ hasText: '$.order.totalCents' });
    const [monolithValue, serviceValue] = [
      Number(await diff.getByRole('cell').nth(1).textContent()),
      Number(await diff.getByRole('cell').nth(2).textContent()),
    ];
    expect(serviceValue).toBe(monolithValue + 1);
    const changed = page.getByRole('table', { name: 'Answers side by side' }).locator('td.changed');
    expect(await changed.count()).toBe(2);
    expect(await changed.nth(0).textContent()).toContain(`"totalCents": ${monolithValue}`);
    expect(await changed.nth(1).textContent()).toContain(`"totalCents": ${serviceValue}`);
    const [session] = await page.context().cookies(system.adminUrl + '/__strangler/');
    expect(session).toMatchObject({ name: 'strangler_admin', httpOnly: true, sameSite: 'Strict' });
    expect(session!.value).not.toContain(ADMIN_TOKEN);
    expect(errors).toEqual([]);
  });
});
