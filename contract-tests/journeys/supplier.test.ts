import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { useJourney } from '../src/journey.ts';
import { journeyPresets } from '../src/target.ts';

// The same journey in every routing state: all monolith, a migration in progress, all services.
describe.each(journeyPresets())('supplier journey [%s]', (preset) => {
  const j = useJourney(preset);

  it('when a new supplier registers, creates a profile, then creates, edits and archives a listing, then each shows', async () => {
    const { page } = j;
    const tag = randomBytes(3).toString('hex');
    const title = `Journey criollo ${tag}`;

    await page.goto('/register');
    await page.getByLabel('Name').fill('Journey Supplier');
    await page.getByLabel('Email').fill(`journey-${tag}@growers.example`);
    await page.getByLabel('Password').fill('journey-password');
    await page.getByLabel('Supplier').check();
    await page.getByRole('button', { name: 'Create account' }).click();

    await page.getByRole('heading', { name: 'Create your supplier profile' }).waitFor();
    await page.getByLabel('Supplier name').fill(`Finca Journey ${tag}`);
    await page.getByLabel('Country').fill('Peru');
    await page.getByLabel('Region').fill('Piura');
    await page.getByLabel('Certifications (comma separated)').fill('Organic, Fairtrade');
    await page.getByRole('button', { name: 'Create profile' }).click();
    await page.getByRole('status').filter({ hasText: 'Supplier profile created.' }).waitFor();

    // Create.
    await page.getByRole('link', { name: 'New listing' }).click();
    await page.getByRole('heading', { name: 'New listing' }).waitFor();
    await page.getByLabel('Title').fill(title);
    await page.getByLabel('Origin country').fill('Peru');
    await page.getByLabel('Origin region').fill('Piura');
    await page.getByLabel('Variety').selectOption('criollo');
    await page.getByLabel('Grade').fill('Fine flavour');
    await page.getByLabel('Price per kg').fill('14.50');
    await page.getByLabel('Currency').selectOption('USD');
    await page.getByLabel('Stock (kg)').fill('400');
    await page.getByLabel('Minimum order (kg)').fill('20');
    await page.getByLabel('Harvest date').fill('2026-04-01');
    await page.getByLabel('Description').fill('Box-fermented six days; notes of red fruit.');
    await page.getByRole('button', { name: 'Create listing' }).click();
    await page.getByRole('status').filter({ hasText: 'Listing saved.' }).waitFor();
    const row = page.getByRole('row').filter({ has: page.getByRole('link', { name: title }) });
    expect(await row.getByRole('cell').nth(0).textContent()).toBe('$14.50');

    // The public sees it.
    const publicView = await page.context().request.get(`/api/listings?q=${encodeURIComponent(title)}`);
    expect((await publicView.json()).total).toBe(1);

    // Edit.
    await row.getByRole('link', { name: `Edit ${title}` }).click();
    await page.getByRole('heading', { name: 'Edit listing' }).waitFor();
    const price = page.getByLabel('Price per kg');
    await expectValue(() => price.inputValue(), '14.50');
    await price.fill('16.25');
    await page.getByLabel('Stock (kg)').fill('350');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByRole('status').filter({ hasText: 'Listing saved.' }).waitFor();
    expect(await row.getByRole('cell').nth(0).textContent()).toBe('$16.25');
    expect(await row.getByRole('cell').nth(1).textContent()).toBe('350 kg');

    // Archive.
    await row.getByRole('button', { name: `Archive ${title}` }).click();
    await page
      .getByRole('status')
      .filter({ hasText: `Archived “${title}”.` })
      .waitFor();
    expect(await row.getByRole('cell').nth(2).textContent()).toBe('Archived');
    expect(await row.getByRole('button').count()).toBe(0);
    const afterArchive = await page.context().request.get(`/api/listings?q=${encodeURIComponent(title)}`);
    expect((await afterArchive.json()).total).toBe(0);
  });
});

/** Polls until `read()` gives `expected` (form fields are filled by a script after load). */
async function expectValue(read: () => Promise<string>, expected: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (value !== expected && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    value = await read();
  }
  expect(value).toBe(expected);
}
