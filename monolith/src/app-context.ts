import { type Database, type SessionRevocations, type SessionTokens } from '@strangler/service-kit';

/** What every route module needs, built once at start-up and passed down explicitly. */
export interface AppContext {
  db: Database;
  tokens: SessionTokens;
  revocations: SessionRevocations;
  /** Mark the session cookie Secure (on whenever the app is behind TLS). */
  secureCookies: boolean;
}
