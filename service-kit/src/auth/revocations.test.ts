import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { redisRevocations } from './revocations.ts';

// The machine's Redis (CI exports REDIS_URL).
const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';

describe('redisRevocations', () => {
  it('when a session is revoked in one client, then another client sees it, until it would have expired', async () => {
    const a = redisRevocations(REDIS_URL);
    const b = redisRevocations(REDIS_URL);
    try {
      const sid = randomUUID();
      expect(await b.isRevoked(sid)).toBe(false);
      await a.revoke(sid, new Date(Date.now() + 300));
      expect(await b.isRevoked(sid)).toBe(true);
      await new Promise((r) => setTimeout(r, 400));
      expect(await b.isRevoked(sid)).toBe(false);
      const expired = randomUUID();
      await a.revoke(expired, new Date(Date.now() - 1000));
      expect(await b.isRevoked(expired)).toBe(false);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('when Redis cannot be reached, then asking fails rather than answering "not revoked"', async () => {
    const down = redisRevocations('redis://127.0.0.1:1');
    try {
      await expect(down.isRevoked(randomUUID())).rejects.toThrow();
    } finally {
      await down.close();
    }
  });
});
