import type { SessionRevocations } from './auth/revocations.ts';
import type { SessionTokens } from './auth/session-token.ts';
import type { Database } from './db/database.ts';

/** What every route module needs, built once at start-up and passed down explicitly. */
export interface AppContext {
  db: Database;
  tokens: SessionTokens;
  revocations: SessionRevocations;
  /** Mark the session cookie Secure (on whenever the app is behind TLS). */
  secureCookies: boolean;
}
