/** The shapes every comparison hands back to the runner, and that `bench/results/latest.json` holds. */

import type { Summary } from './stats.js';

/** A rendered table for BENCHMARKS.md; the numbers behind it are in `data`. */
export interface MarkdownTable {
  readonly title: string;
  readonly columns: readonly string[];
  readonly rows: readonly (readonly string[])[];
  readonly notes?: readonly string[];
}

/** One target of the issue, checked against the measurement. */
export interface TargetCheck {
  readonly target: string;
  readonly passed: boolean;
  readonly detail: string;
}

export interface ComparisonResult {
  readonly name: string;
  readonly title: string;
  /** How it was measured, in a sentence or two (repeated in BENCHMARKS.md). */
  readonly method: string;
  readonly durationMs: number;
  readonly tables: readonly MarkdownTable[];
  readonly checks: readonly TargetCheck[];
  /** Observations worth a human's attention (a contender that needed a workaround, a resized run). */
  readonly findings: readonly string[];
  /** The raw numbers (summaries of per-round values, counters). */
  readonly data: unknown;
}

/** A contender's per-round numbers, each divided by a reference contender's of the same round. */
export interface RoundRatios {
  /** Throughput divided by the reference's. */
  readonly throughputRatio: Summary;
  /** p99 divided by the reference's p99. */
  readonly p99Ratio: Summary;
  /** CPU per operation divided by the reference's. */
  readonly cpuRatio: Summary;
}

/** Per-contender numbers of one throughput case (one workload at one concurrency); the ratios are against the baseline. */
export interface ThroughputStats extends RoundRatios {
  readonly name: string;
  readonly label: string;
  /** Operations per second, one value per round. */
  readonly opsPerSecond: Summary;
  /** CPU time of the benchmark process per operation (µs), one value per round: the client-side cost. */
  readonly cpuMicrosPerOp: Summary;
  /** Latency percentiles over every operation of every round, in milliseconds. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly ops: number;
  /** The same ratios against each of the plan's `alsoAgainst` contenders, by name. */
  readonly against?: Readonly<Record<string, RoundRatios>>;
}
