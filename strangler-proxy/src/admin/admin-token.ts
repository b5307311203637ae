import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Whether `given` is the admin token, compared in constant time: both sides are hashed
 * first, so neither the content nor the length of the token leaks through timing.
 */
export function isAdminToken(given: string | undefined, expected: string | undefined): boolean {
  if (!expected || given === undefined) return false;
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** The token of an admin request: `Authorization: Bearer …` or `x-strangler-token`. */
export function adminTokenOf(headers: Record<string, string | string[] | undefined>): string | undefined {
  const auth = headers.authorization;
  if (typeof auth === 'string' && auth.startsWith('Bearer ')) return auth.slice(7).trim();
  const t = headers['x-strangler-token'];
  return typeof t === 'string' ? t : undefined;
}
