import type { AppKit } from '@strangler/service-kit';

/** What every route module of the listings service needs, built once at start-up. */
export type AppContext = Pick<AppKit, 'db' | 'tokens' | 'revocations'>;
