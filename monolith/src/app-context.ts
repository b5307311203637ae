import type { Logger } from 'pino';
import { type Database, type LoginThrottle, type SessionRevocations, type SessionTokens } from '@strangler/service-kit';
import type { StockClient } from './orders/stock-client.ts';

/** What every route module needs, built once at start-up and passed down explicitly. */
export interface AppContext {
  db: Database;
  /**
   * The orders module's own pool on the same database: an order holds a connection while it
   * reserves stock through the listings API, which this process may serve itself; one shared pool
   * could then run out with every connection waiting on a request that needs one.
   */
  ordersDb: Database;
  /** Stock reservations through the listings API, wherever it is served. */
  stock: StockClient;
  tokens: SessionTokens;
  revocations: SessionRevocations;
  /** Failed logins counted and slowed (shared with the auth service through Redis). */
  loginThrottle: LoginThrottle;
  /** Mark the session cookie Secure (on whenever the app is behind TLS). */
  secureCookies: boolean;
  log: Logger;
}
