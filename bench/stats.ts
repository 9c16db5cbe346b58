// Summaries of the benchmarks' samples: percentiles, medians, means, and KiB as MiB.

export const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);

/** Nearest-rank percentile (p in 0..1); NaN when empty. */
export function pct(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = sorted(xs);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))];
}

/** The sample at index floor(n/2) once sorted (the upper middle one of an even count). */
export const median = (xs: number[]) => sorted(xs)[Math.floor(xs.length / 2)];

/** The sample at index floor(0.95 n) once sorted, the last at most. */
export const p95 = (xs: number[]) => sorted(xs)[Math.min(xs.length - 1, Math.floor(xs.length * 0.95))];

/** The median proper: the middle sample, or the mean of the two middle ones of an even count. */
export const midMedian = (xs: number[]) => {
  const s = sorted(xs);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

export const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);

/** KiB as MiB, one decimal. */
export const mib = (kib: number) => (kib / 1024).toFixed(1);
