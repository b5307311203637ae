// Copied to extracted/listings/src/listings/listing-schemas.ts; this copy retires with the listings group's cutover (keep the two alike: contract-tests/contracts/copies.test.ts).
import { z } from 'zod';
import { PageQuery } from '@strangler/service-kit';
import { CURRENCIES, LISTING_SORTS, VARIETIES } from './listings.ts';

const text = (max: number, min = 1) =>
  z
    .string({ error: 'is required' })
    .trim()
    .min(min, min > 1 ? `must be at least ${min} characters` : 'is required')
    .max(max, `must be at most ${max} characters`);
const wholeNumber = (min: number, max: number) =>
  z
    .number({ error: `must be a whole number from ${min} to ${max}` })
    .int(`must be a whole number from ${min} to ${max}`)
    .min(min, `must be a whole number from ${min} to ${max}`)
    .max(max, `must be a whole number from ${min} to ${max}`);

const harvestDate = z
  .string({ error: 'must be a date, YYYY-MM-DD' })
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date, YYYY-MM-DD')
  .refine(
    (d) => !Number.isNaN(Date.parse(`${d}T00:00:00Z`)) && new Date(`${d}T00:00:00Z`).toISOString().startsWith(d),
    'must be a real date',
  )
  .refine((d) => d >= '2000-01-01' && d <= new Date().toISOString().slice(0, 10), 'must be between 2000-01-01 and today');

/** Every field a supplier writes, with its bounds. */
export const listingFields = {
  title: text(120, 3),
  originCountry: text(56),
  originRegion: text(80),
  variety: z.enum(VARIETIES, { error: `must be one of ${VARIETIES.join(', ')}` }),
  grade: text(40),
  pricePerKgCents: wholeNumber(1, 10_000_000),
  currency: z.enum(CURRENCIES, { error: `must be one of ${CURRENCIES.join(', ')}` }),
  stockKg: wholeNumber(0, 1_000_000),
  minOrderKg: wholeNumber(1, 100_000),
  harvestDate,
  description: z.string({ error: 'must be text' }).trim().max(5000, 'must be at most 5000 characters'),
};

export const CreateListingBody = z.strictObject({
  ...listingFields,
  description: listingFields.description.default(''),
  /** Admins name the supplier; a supplier always lists under their own profile. */
  supplierId: z.number({ error: 'must be a supplier id' }).int('must be a supplier id').positive('must be a supplier id').optional(),
});

export const UpdateListingBody = z
  .strictObject(
    Object.fromEntries(Object.entries(listingFields).map(([k, v]) => [k, v.optional()])) as {
      [K in keyof typeof listingFields]: z.ZodOptional<(typeof listingFields)[K]>;
    },
  )
  .refine((b) => Object.values(b).some((v) => v !== undefined), { error: 'send at least one field to change' });

const cents = z.coerce
  .number({ error: 'must be a whole number of cents' })
  .int('must be a whole number of cents')
  .min(0, 'must be a whole number of cents');

export const ListListingsQuery = z
  .object({
    q: z.string().trim().max(100, 'must be at most 100 characters').optional(),
    origin: z.string().trim().max(80, 'must be at most 80 characters').optional(),
    variety: z.enum(VARIETIES, { error: `must be one of ${VARIETIES.join(', ')}` }).optional(),
    minPrice: cents.optional(),
    maxPrice: cents.optional(),
    inStock: z
      .enum(['true', 'false'], { error: 'must be true or false' })
      .transform((v) => v === 'true')
      .optional(),
    supplierId: z.coerce
      .number({ error: 'must be a supplier id' })
      .int('must be a supplier id')
      .positive('must be a supplier id')
      .optional(),
    status: z.enum(['active', 'archived', 'all'], { error: 'must be one of active, archived, all' }).default('active'),
    sort: z.enum(LISTING_SORTS, { error: `must be one of ${LISTING_SORTS.join(', ')}` }).default('newest'),
    ...PageQuery,
  })
  .refine((q) => q.minPrice === undefined || q.maxPrice === undefined || q.minPrice <= q.maxPrice, {
    error: 'must not be below minPrice',
    path: ['maxPrice'],
  });
