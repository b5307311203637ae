import type { Database, SessionRevocations, SessionTokens } from '@strangler/service-kit';

/** What every route module of the listings service needs, built once at start-up. */
export interface AppContext {
  db: Database;
  tokens: SessionTokens;
  revocations: SessionRevocations;
}
