/** Number formatting for the tables in BENCHMARKS.md. */

import type { Summary } from './stats.js';

export function ratioCell(summary: Summary): string {
  return `${summary.median.toFixed(3)}× (${summary.p25.toFixed(3)}–${summary.p75.toFixed(3)})`;
}

export function integer(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

export function ms(value: number, digits = 3): string {
  return `${value.toFixed(digits)} ms`;
}

export function bytes(value: number): string {
  const sign = value < 0 ? '-' : '';
  const abs = Math.abs(value);
  if (abs >= 1024 * 1024) return `${sign}${(abs / 1024 / 1024).toFixed(2)} MiB`;
  if (abs >= 1024) return `${sign}${(abs / 1024).toFixed(1)} KiB`;
  return `${sign}${abs.toFixed(0)} B`;
}

export function mark(passed: boolean): string {
  return passed ? 'yes' : '**no**';
}
