export { createDatabase, servicePool, type Database, type DatabaseOptions, type Queryable } from './db/database.ts';
export { migrate, loadMigrations, type Migration } from './db/migrate.ts';
export { pagedQuery, pagedQueryOneTrip, type OneTripPagedQuery, type PagedQuery } from './db/paged-query.ts';
export { containsPattern } from './db/like-pattern.ts';
export { isoTimestamp } from './db/iso-timestamp.ts';
export { ERRORS, ApiError, type ErrorCode, type FieldErrors } from './http/errors.ts';
export { errorHandler } from './http/error-handler.ts';
export { parse } from './http/validate.ts';
export { PageQuery, toPage, limitOffset, type Page } from './http/pagination.ts';
export { idParam } from './http/params.ts';
export { parseCookies, sessionCookie, type CookieOptions } from './http/cookies.ts';
export { requireJsonBody } from './http/require-json.ts';
export { closeGracefully } from './http/graceful-close.ts';
export { idempotencyKeyOf, onceForKey, stableJson, type StoredResponse } from './http/idempotency.ts';
export { SessionTokens, type Session, type Role } from './auth/session-token.ts';
export { sessionMiddleware, requireSession, requireRole, SESSION_COOKIE } from './auth/session-middleware.ts';
export { createRevocations, postgresRevocations, redisRevocations, type SessionRevocations } from './auth/revocations.ts';
export { hashPassword, verifyPassword, dummyHash } from './auth/passwords.ts';
export {
  createLoginThrottle,
  DEFAULT_LOGIN_THROTTLE,
  type LoginAttempt,
  type LoginThrottle,
  type LoginThrottleConfig,
} from './auth/login-throttle.ts';
export {
  memoryThrottleStore,
  redisThrottleStore,
  waitAfter,
  type CounterRef,
  type Pacing,
  type ThrottleStore,
} from './auth/throttle-store.ts';
export { clientAddress, addressBucket } from './http/client-address.ts';
export { createApiApp, BODY_LIMIT_BYTES, type ApiAppOptions } from './http/api-app.ts';
export { serve, type Serving } from './http/serve.ts';
export { exitOnSignals } from './exit-on-signals.ts';
export { ConfigError, envReader } from './config/env.ts';
export { loadAppConfig, loadLoginThrottleConfig, type AppConfig } from './config/app-config.ts';
export { withPassword } from './config/secret-url.ts';
export { startApp, type AppKit, type RunningApp } from './http/start-app.ts';
export { runApp } from './http/run-app.ts';
export { createLogger, REDACT_PATHS } from './logger.ts';
export { DRY_RUN_HEADER, dryRunMarkOf, isDryRun } from './http/dry-run.ts';
export { callApi, callerOf, type Caller } from './http/call-api.ts';
export { OrderItems, type OrderItem } from './schemas/order-items.ts';
