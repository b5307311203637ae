import { z } from 'zod';

/**
 * The items of an order, as a buyer sends them: 1 to 20 distinct listings, a whole number of kg
 * each. One schema for the monolith's orders and reservations and the orders and listings services,
 * because an order's validation errors are the reservation's: both sides must word them alike.
 */
export const OrderItems = z
  .array(
    z.strictObject({
      listingId: z.number({ error: 'must be a listing id' }).int('must be a listing id').positive('must be a listing id'),
      quantityKg: z
        .number({ error: 'must be a whole number of kg' })
        .int('must be a whole number of kg')
        .min(1, 'must be at least 1')
        .max(1_000_000, 'must be at most 1000000'),
    }),
    { error: 'must be a list of {listingId, quantityKg}' },
  )
  .min(1, 'must have at least one item')
  .max(20, 'must have at most 20 items')
  .refine((items) => new Set(items.map((i) => i.listingId)).size === items.length, 'must not list the same listing twice');

/** One item of an order: a listing and how many kg of it. */
export type OrderItem = z.infer<typeof OrderItems>[number];
