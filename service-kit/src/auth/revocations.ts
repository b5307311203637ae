import type { Queryable } from '../db/database.ts';

/** Where logged-out session ids are kept until they would have expired anyway. */
export interface SessionRevocations {
  revoke(sessionId: string, expiresAt: Date): Promise<void>;
  isRevoked(sessionId: string): Promise<boolean>;
}

/** The monolith keeps revocations in its own database (the auth service will keep them in Redis). */
export function postgresRevocations(db: Queryable): SessionRevocations {
  return {
    async revoke(sessionId, expiresAt) {
      await db.query(
        'INSERT INTO revoked_sessions (session_id, expires_at) VALUES ($1, $2) ON CONFLICT (session_id) DO NOTHING',
        [sessionId, expiresAt],
      );
      // Expired entries can never match a valid token again; trimming here keeps the table small.
      await db.query('DELETE FROM revoked_sessions WHERE expires_at < now()');
    },
    async isRevoked(sessionId) {
      const { rowCount } = await db.query('SELECT 1 FROM revoked_sessions WHERE session_id = $1', [sessionId]);
      return (rowCount ?? 0) > 0;
    },
  };
}
