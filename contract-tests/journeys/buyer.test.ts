import { describe, expect, it } from 'vitest';
import { PRESETS } from '@strangler/reference-migration';
import demo from '@strangler/monolith/demo-accounts.json' with { type: 'json' };
import { useJourney } from '../src/journey.ts';
import { journeyPresets } from '../src/target.ts';

// The same journey in every routing state: all monolith, a migration in progress, all services.
describe.each(journeyPresets())('buyer journey [%s]', (preset) => {
  const j = useJourney(preset);

  it('when a buyer browses, searches, logs in, orders and cancels, then every step shows the right thing', async () => {
    const { page } = j;
    await page.goto('/');
    await page.getByRole('heading', { name: 'Cacao listings' }).waitFor();
    await page
      .getByRole('status')
      .filter({ hasText: /\d+ listings found/ })
      .waitFor();
    expect(await page.getByRole('list', { name: 'Search results' }).getByRole('listitem').count()).toBeGreaterThan(0);

    // Search: Piura, criollo or trinitario, orderable now.
    await page.getByLabel('Search', { exact: true }).fill('Piura');
    await page.getByLabel('In stock only').check();
    await page.getByLabel('Sort by').selectOption('price_asc');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL(/q=Piura/);
    await page
      .getByRole('status')
      .filter({ hasText: /\d+ listings? found/ })
      .waitFor();
    const results = page.getByRole('list', { name: 'Search results' }).getByRole('article');
    const count = await results.count();
    expect(count).toBeGreaterThan(0);
    for (let i = 0; i < count; i++) expect(await results.nth(i).textContent()).toMatch(/Piura/);
    expect(await page.getByLabel('Search', { exact: true }).inputValue()).toBe('Piura');

    // Open the first result; not logged in yet, so the order form asks for a login.
    const first = results.first().getByRole('link');
    const title = (await first.textContent())!;
    await first.click();
    await page.getByRole('heading', { level: 1, name: title }).waitFor();
    expect(await page.getByRole('definition').first().textContent()).toMatch(/Piura/);
    await page.getByRole('region', { name: 'Order this cacao' }).getByRole('link', { name: 'Log in' }).click();

    await page.getByRole('heading', { name: 'Log in' }).waitFor();
    await page.getByLabel('Email').fill(demo.buyer.email);
    await page.getByLabel('Password').fill(demo.buyer.password);
    await page.getByRole('button', { name: 'Log in' }).click();

    // Back on the listing, logged in: order the minimum.
    await page.getByRole('heading', { level: 1, name: title }).waitFor();
    await page.getByText(`Signed in as ${demo.buyer.name}`).waitFor();
    const quantity = page.getByLabel('Quantity (kg)');
    const min = Number(await quantity.inputValue());
    expect(min).toBeGreaterThan(0);
    await page.getByRole('button', { name: 'Place order' }).click();
    const placed = page.getByRole('status').filter({ hasText: /Order #\d+ placed/ });
    await placed.waitFor();
    const orderId = /#(\d+)/.exec((await placed.textContent())!)![1]!;
    // Proof of the routing state: the orders service hands out ids from 1 000 000 000 up.
    if (!process.env.E2E_BASE_URL) expect(Number(orderId) >= 1_000_000_000).toBe(PRESETS[preset].orders === 'service');

    // My orders shows it; cancel it.
    await page.getByRole('link', { name: 'View my orders' }).click();
    await page.getByRole('heading', { name: 'My orders' }).waitFor();
    const row = page.getByRole('row').filter({ has: page.getByRole('rowheader', { name: `#${orderId}`, exact: true }) });
    await row.waitFor();
    expect(await row.textContent()).toContain(title);
    expect(await row.getByRole('cell').nth(3).textContent()).toBe('Placed');
    await row.getByRole('button', { name: `Cancel order #${orderId}` }).click();
    await page
      .getByRole('status')
      .filter({ hasText: `Order #${orderId} cancelled.` })
      .waitFor();
    expect(await row.getByRole('cell').nth(3).textContent()).toBe('Cancelled');
    expect(await row.getByRole('button').count()).toBe(0);
  });

  it('when the password is wrong, then the login page says so and stays', async () => {
    const { page } = j;
    await page.goto('/login');
    await page.getByLabel('Email').fill(demo.buyer.email);
    await page.getByLabel('Password').fill('not-the-password');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('alert').filter({ hasText: 'The email or password is wrong.' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/login');
  });
});
