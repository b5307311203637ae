import { Redis } from 'ioredis';
import type { Queryable } from '../db/database.ts';

/** Where logged-out session ids are kept until they would have expired anyway. */
export interface SessionRevocations {
  revoke(sessionId: string, expiresAt: Date): Promise<void>;
  isRevoked(sessionId: string): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * Revocations in the app's own database: seen only by that app. The fallback when no Redis is
 * configured (a bare local machine); every deployed app shares Redis instead.
 */
export function postgresRevocations(db: Queryable): SessionRevocations {
  return {
    async revoke(sessionId, expiresAt) {
      await db.query('INSERT INTO revoked_sessions (session_id, expires_at) VALUES ($1, $2) ON CONFLICT (session_id) DO NOTHING', [
        sessionId,
        expiresAt,
      ]);
      // Expired entries can never match a valid token again; trimming here keeps the table small.
      await db.query('DELETE FROM revoked_sessions WHERE expires_at < now()');
    },
    async isRevoked(sessionId) {
      const { rowCount } = await db.query('SELECT 1 FROM revoked_sessions WHERE session_id = $1', [sessionId]);
      return (rowCount ?? 0) > 0;
    },
    close: async () => {},
  };
}

const KEY_PREFIX = 'strangler:revoked-session:';

/**
 * Revocations in Redis, shared by the monolith and every service: a logout handled by any of them
 * is honoured by all, whichever side serves the next request. Each key expires with its session.
 */
export function redisRevocations(url: string): SessionRevocations {
  const redis = new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 2, enableOfflineQueue: true });
  // Connection errors surface on the commands that need Redis; do not crash on the event.
  redis.on('error', () => {});
  return {
    async revoke(sessionId, expiresAt) {
      const ttlMs = expiresAt.getTime() - Date.now();
      if (ttlMs > 0) await redis.set(`${KEY_PREFIX}${sessionId}`, '1', 'PX', ttlMs);
    },
    async isRevoked(sessionId) {
      return (await redis.exists(`${KEY_PREFIX}${sessionId}`)) === 1;
    },
    async close() {
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}

/** Redis when a URL is configured, else the app's own table. */
export function createRevocations(redisUrl: string | undefined, db: Queryable): SessionRevocations {
  return redisUrl ? redisRevocations(redisUrl) : postgresRevocations(db);
}
