import type { AppKit } from '@strangler/service-kit';
import type { StockClient } from './orders/stock-client.ts';

/** What the orders routes need, built once at start-up. */
export type AppContext = Pick<AppKit, 'db' | 'tokens' | 'revocations' | 'log'> & {
  /** Stock reservations through the listings API, wherever it is served. */
  stock: StockClient;
};
