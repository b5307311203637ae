import { createHash } from 'node:crypto';
import type { Request } from 'express';
import type { Queryable } from '../db/database.ts';
import { ApiError } from './errors.ts';

const KEY = /^[\x21-\x7e]{1,255}$/;

/**
 * The request's `Idempotency-Key`, if any. Two of them are refused: a proxy or client that joined
 * two keys would otherwise have them silently merged into one.
 */
export function idempotencyKeyOf(req: Request): string | undefined {
  const values = req.headersDistinct['idempotency-key'];
  if (!values) return undefined;
  if (values.length !== 1 || !KEY.test(values[0]!)) throw new ApiError('invalid_idempotency_key');
  return values[0];
}

/** A response that can be stored and replayed. */
export interface StoredResponse {
  status: number;
  body: unknown;
}

/**
 * Runs `produce` at most once per (user, key) inside transaction `tx`: a second request with the
 * same key and body gets the first response back (`replayed`), with another body a 422. A second
 * request arriving while the first is still running waits for it (row lock on the key) and then
 * replays its outcome; if the first failed, nothing was stored and the second runs anew.
 */
export async function onceForKey(
  tx: Queryable,
  userId: number,
  key: string,
  requestBody: unknown,
  produce: () => Promise<StoredResponse>,
): Promise<StoredResponse & { replayed: boolean }> {
  const requestHash = createHash('sha256').update(stableJson(requestBody)).digest('hex');
  await tx.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`idempotency:${userId}:${key}`]);
  const { rows } = await tx.query<{ requestHash: string; status: number; body: unknown }>(
    'SELECT request_hash AS "requestHash", response_status AS status, response_body AS body FROM idempotency_keys WHERE user_id = $1 AND key = $2',
    [userId, key],
  );
  const previous = rows[0];
  if (previous) {
    if (previous.requestHash !== requestHash) throw new ApiError('idempotency_key_reused');
    return { status: previous.status, body: previous.body, replayed: true };
  }
  const response = await produce();
  await tx.query('INSERT INTO idempotency_keys (user_id, key, request_hash, response_status, response_body) VALUES ($1, $2, $3, $4, $5)', [
    userId,
    key,
    requestHash,
    response.status,
    JSON.stringify(response.body),
  ]);
  return { ...response, replayed: false };
}

/** JSON with object keys sorted, so `{a,b}` and `{b,a}` hash the same. */
export function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
