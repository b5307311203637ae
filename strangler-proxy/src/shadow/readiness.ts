/**
 * The lower bound of the 95 % Wilson score interval of a proportion: the match rate the samples
 * support with confidence. 990 matches of 1 000 give 0.982; 99 of 100 only 0.945.
 */
export function wilsonLowerBound(successes: number, n: number, z = 1.96): number {
  if (n <= 0) return 0;
  const p = successes / n;
  const z2 = z * z;
  const centre = p + z2 / (2 * n);
  const margin = z * Math.sqrt((p * (1 - p) + z2 / (4 * n)) / n);
  return Math.max(0, (centre - margin) / (1 + z2 / n));
}

export interface ReadinessInput {
  /** Comparisons made, and how many matched once noise is cancelled. */
  samples: number;
  adjustedMatches: number;
  /** Failures (5xx or no answer) on each side, out of `samples`. */
  monolithErrors: number;
  serviceErrors: number;
  /** p99 latency of each side, ms. */
  monolithP99Ms: number;
  serviceP99Ms: number;
}

export interface Readiness {
  /** 0–100: the confident match rate, lowered by extra errors and by extra latency. */
  score: number;
  /** Wilson lower bound of the noise-adjusted match rate. */
  matchLowerBound: number;
  /** Service error rate minus the monolith's (percentage points / 100). */
  errorRateDelta: number;
  /** Service p99 minus the monolith's, ms. */
  latencyP99DeltaMs: number;
}

/** Error-rate points above the monolith's that bring the score to 0. */
const ERROR_BUDGET = 0.05;
/** The service's p99 may be this much of the monolith's before the score is lowered. */
const LATENCY_BUDGET = 1.2;

/**
 * How ready a route is to move: confident matches (Wilson), times a penalty for each extra
 * percentage point of errors (5 points take it to 0), times a penalty for a p99 more than 20 %
 * slower than the monolith's (proportional: twice as slow halves what is left). Gates compare it
 * with their threshold once enough samples exist.
 */
export function readiness(r: ReadinessInput): Readiness {
  const matchLowerBound = wilsonLowerBound(r.adjustedMatches, r.samples);
  const errorRateDelta = r.samples ? (r.serviceErrors - r.monolithErrors) / r.samples : 0;
  const errorPenalty = Math.max(0, 1 - Math.max(0, errorRateDelta) / ERROR_BUDGET);
  const allowed = Math.max(r.monolithP99Ms * LATENCY_BUDGET, 1);
  const latencyPenalty = r.serviceP99Ms <= allowed ? 1 : allowed / r.serviceP99Ms;
  return {
    score: Math.round(1000 * matchLowerBound * errorPenalty * latencyPenalty) / 10,
    matchLowerBound,
    errorRateDelta,
    latencyP99DeltaMs: r.serviceP99Ms - r.monolithP99Ms,
  };
}
