/** When a field's differences count as the service's, not as noise (Diffy's idea). */
export interface NoiseThresholds {
  /** The difference rate must exceed the noise rate by this fraction of it (0.2 = 20 % more). */
  relative: number;
  /** …and by at least this much in absolute terms (0.01 = one request in a hundred). */
  absolute: number;
}

/** How often a field differed between the service and the monolith, and between two monolith answers. */
export interface FieldRates {
  /** Comparisons service vs monolith, and how many had this field differ. */
  samples: number;
  diffs: number;
  /** Comparisons monolith vs monolith (the same request sent twice), and how many had it differ. */
  noiseSamples: number;
  noise: number;
}

export const rate = (n: number, of: number): number => (of > 0 ? n / of : 0);

/**
 * Whether a field's differences are the service's doing: a field that differs as often between
 * two answers of the monolith itself (a timestamp, a request id) is noise, and is not reported.
 */
export function isReported(f: FieldRates, t: NoiseThresholds): boolean {
  const diffRate = rate(f.diffs, f.samples);
  const noiseRate = rate(f.noise, f.noiseSamples);
  return diffRate - noiseRate > t.absolute && diffRate > noiseRate * (1 + t.relative);
}
