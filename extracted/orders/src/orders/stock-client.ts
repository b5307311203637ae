// Copied from monolith/src/orders/stock-client.ts; the monolith's copy retires with the orders group's cutover. Differences: Currency comes from orders.ts.
import { callApi, type Caller } from '@strangler/service-kit';
import type { Currency, OrderLine } from './orders.ts';

interface ReservedItem extends OrderLine {
  currency: Currency;
}

/**
 * The stock of an order, held through the listings API (`/api/reservations`) at `baseUrl` — the
 * strangler proxy — so it is taken wherever listings are served at that moment, never from a copy.
 */
export class StockClient {
  readonly #baseUrl: () => string;

  constructor(baseUrl: () => string) {
    this.#baseUrl = baseUrl;
  }

  /** Takes the stock of every item under `key` (idempotent); the lines in the order asked, priced now. */
  async reserve(
    caller: Caller,
    key: string,
    items: { listingId: number; quantityKg: number }[],
  ): Promise<{ currency: Currency; lines: OrderLine[] }> {
    const { body } = await callApi<{ reservation: { items: ReservedItem[] } }>(this.#baseUrl(), 'POST', '/api/reservations', caller, {
      body: { key, items },
      what: 'Stock',
    });
    const reserved = new Map(body.reservation.items.map((i) => [i.listingId, i]));
    const lines = items.map((i) => {
      const { currency: _c, ...line } = reserved.get(i.listingId)!;
      return line;
    });
    return { currency: body.reservation.items[0]!.currency, lines };
  }

  /** Gives the stock back (idempotent). */
  async release(caller: Caller, key: string): Promise<void> {
    await callApi(this.#baseUrl(), 'POST', `/api/reservations/${encodeURIComponent(key)}/release`, caller, { what: 'Stock' });
  }
}
