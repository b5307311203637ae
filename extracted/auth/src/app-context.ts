import type { AppKit } from '@strangler/service-kit';

/** What the auth routes need, built once at start-up. */
export type AppContext = Pick<AppKit, 'db' | 'tokens' | 'revocations' | 'loginThrottle'> & {
  /** Mark the session cookie Secure (on whenever the app is behind TLS). */
  secureCookies: boolean;
};
