/** Order statistics for benchmark samples. Inputs are never mutated. */

/** The q-quantile (0..1) by linear interpolation between closest ranks; NaN for no samples. */
export function quantile(values: ArrayLike<number>, q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  return quantileOfSorted(sorted, q);
}

/** Same as {@link quantile} on samples already sorted ascending. */
export function quantileOfSorted(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const position = (sorted.length - 1) * Math.min(1, Math.max(0, q));
  const low = Math.floor(position);
  const high = Math.ceil(position);
  const lowValue = sorted[low] as number;
  const highValue = sorted[high] as number;
  return lowValue + (highValue - lowValue) * (position - low);
}

export function median(values: ArrayLike<number>): number {
  return quantile(values, 0.5);
}

/** Median and spread of a set of per-round values: the spread is the interquartile range and the extremes. */
export interface Summary {
  median: number;
  p25: number;
  p75: number;
  min: number;
  max: number;
  n: number;
}

export function summarize(values: ArrayLike<number>): Summary {
  const sorted = Float64Array.from(values).sort();
  return {
    median: quantileOfSorted(sorted, 0.5),
    p25: quantileOfSorted(sorted, 0.25),
    p75: quantileOfSorted(sorted, 0.75),
    min: sorted.length > 0 ? (sorted[0] as number) : Number.NaN,
    max: sorted.length > 0 ? (sorted[sorted.length - 1] as number) : Number.NaN,
    n: sorted.length,
  };
}

/** Rounds to `digits` significant decimals so JSON results stay readable. */
export function round(value: number, digits = 4): number {
  if (!Number.isFinite(value)) return value;
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

export function roundSummary(summary: Summary, digits = 4): Summary {
  return {
    median: round(summary.median, digits),
    p25: round(summary.p25, digits),
    p75: round(summary.p75, digits),
    min: round(summary.min, digits),
    max: round(summary.max, digits),
    n: summary.n,
  };
}
