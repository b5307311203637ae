// What the vitest globalSetup hands to every test file through `inject()`.
declare module 'vitest' {
  export interface ProvidedContext {
    /** URL of the PostgreSQL server the tests create their scratch databases on. */
    pgServerUrl: string;
    /** Redis the apps under test share for session revocations (REDIS_URL, else the local default). */
    redisUrl: string;
  }
}

export {};
