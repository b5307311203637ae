import { createHash } from 'node:crypto';

/** Buckets per 100 %: a weight has two decimals, so 1 bucket = 0.01 %. */
export const BUCKETS = 10_000;

/**
 * The user's bucket for a split, 0–9 999: stable for a user and split, uniform across users. The
 * split's salt (the route group) keeps the users of one canary from being the users of every canary.
 */
export function canaryBucket(salt: string, userKey: string): number {
  return createHash('sha256').update(salt).update('\u0000').update(userKey).digest().readUInt32BE(0) % BUCKETS;
}

/**
 * Whether the bucket is inside the canary at `weightPercent`. Buckets below the threshold go to the
 * target, so raising the weight only adds users to the target and lowering it only removes them.
 */
export function inCanary(bucket: number, weightPercent: number): boolean {
  return bucket < Math.round(weightPercent * (BUCKETS / 100));
}
