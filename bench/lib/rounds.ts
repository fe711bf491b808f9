/** Interleaved rounds: every contender runs one slice per round, so machine noise hits all of them alike. */

import { runClosedLoop, type LoadOptions, type LoadResult } from './load.js';
import type { RoundRatios, ThroughputStats } from './result.js';
import { quantile, roundSummary, summarize } from './stats.js';

export interface Contender {
  /** Stable key in results (`bare`, `dbmodule-query`...). */
  readonly name: string;
  /** What a reader sees in tables. */
  readonly label: string;
  /** One closed-loop slice, wherever the contender runs (this process, or its own: remote-contender.ts). */
  readonly runSlice: (options: LoadOptions) => Promise<LoadResult>;
  /** Collects garbage where the contender runs. */
  readonly collectGarbage: (kind: 'major' | 'minor') => void | Promise<void>;
}

/** A contender running in this process: `operation(sequence)` in a closed loop. */
export function localContender(name: string, label: string, operation: (sequence: number) => Promise<unknown>): Contender {
  return { name, label, runSlice: (options) => runClosedLoop(operation, options), collectGarbage };
}

export interface ThroughputPlan {
  readonly contenders: readonly Contender[];
  /** Name of the contender every ratio is taken against. */
  readonly baseline: string;
  /** More contenders to take per-round ratios against (in {@link ThroughputStats.against}). */
  readonly alsoAgainst?: readonly string[];
  readonly concurrency: number;
  readonly rounds: number;
  /** Measured time per contender per round, taken as `slices` alternating slices. */
  readonly sliceMs: number;
  /** Slices per contender per round: short alternating slices spread a burst of machine noise over every contender. */
  readonly slices: number;
  /** Unmeasured load per contender before the first round (JIT, pool filled to its working size). */
  readonly warmupMs: number;
}

type GcFunction = (options?: { type: 'major' | 'minor' }) => void;

/**
 * Collects garbage when node runs with --expose-gc, so that one contender's garbage is not
 * collected on another's time: a full collection between rounds, a cheap young-generation one
 * between slices.
 */
export function collectGarbage(kind: 'major' | 'minor' = 'major'): void {
  const gc = (globalThis as { gc?: GcFunction }).gc;
  if (gc) gc({ type: kind });
}

/**
 * The contenders' order rotates every round (and reverses every other round), so each one is
 * as often first, last, and after each other contender.
 */
export function roundOrder<T>(items: readonly T[], round: number): T[] {
  const rotated = items.map((_, i) => items[(i + round) % items.length] as T);
  return Math.floor(round / items.length) % 2 === 1 ? rotated.reverse() : rotated;
}

/** Runs the plan and summarises throughput and latency per contender, with ratios against the baseline. */
export async function compareThroughput(plan: ThroughputPlan): Promise<ThroughputStats[]> {
  const { contenders, concurrency } = plan;
  for (const reference of [plan.baseline, ...(plan.alsoAgainst ?? [])]) {
    if (!contenders.some((c) => c.name === reference)) throw new Error(`baseline ${reference} is not a contender`);
  }
  for (const contender of contenders) {
    await contender.collectGarbage('major');
    await contender.runSlice({ concurrency, durationMs: plan.warmupMs });
  }
  const perRound = new Map<string, LoadResult[]>(contenders.map((c) => [c.name, []]));
  const sliceMs = plan.sliceMs / plan.slices;
  for (let round = 0; round < plan.rounds; round++) {
    for (const contender of contenders) await contender.collectGarbage('major');
    const parts = new Map<string, LoadResult[]>(contenders.map((c) => [c.name, []]));
    for (let slice = 0; slice < plan.slices; slice++) {
      for (const contender of roundOrder(contenders, round * plan.slices + slice)) {
        await contender.collectGarbage('minor');
        parts.get(contender.name)!.push(await contender.runSlice({ concurrency, durationMs: sliceMs }));
      }
    }
    for (const [name, results] of parts) perRound.get(name)!.push(merge(results));
  }
  return contenders.map((contender) => {
    const results = perRound.get(contender.name)!;
    const all = concatenate(results.map((r) => r.latenciesMs));
    const against = plan.alsoAgainst?.length
      ? { against: Object.fromEntries(plan.alsoAgainst.map((reference) => [reference, perRoundRatios(results, perRound.get(reference)!)])) }
      : {};
    return {
      name: contender.name,
      label: contender.label,
      opsPerSecond: roundSummary(summarize(results.map(opsPerSecond)), 1),
      ...perRoundRatios(results, perRound.get(plan.baseline)!),
      cpuMicrosPerOp: roundSummary(summarize(results.map(cpuPerOp)), 2),
      p50Ms: roundTo(quantile(all, 0.5)),
      p99Ms: roundTo(quantile(all, 0.99)),
      ops: all.length,
      ...against,
    };
  });
}

/** A contender's per-round throughput, p99 and CPU/op, each divided by the reference's of the same round. */
function perRoundRatios(results: readonly LoadResult[], reference: readonly LoadResult[]): RoundRatios {
  return {
    throughputRatio: roundSummary(summarize(results.map((r, i) => opsPerSecond(r) / opsPerSecond(reference[i]!)))),
    p99Ratio: roundSummary(summarize(results.map((r, i) => quantile(r.latenciesMs, 0.99) / quantile(reference[i]!.latenciesMs, 0.99)))),
    cpuRatio: roundSummary(summarize(results.map((r, i) => cpuPerOp(r) / cpuPerOp(reference[i]!)))),
  };
}

/** One round's slices of one contender as a single measurement. */
function merge(results: readonly LoadResult[]): LoadResult {
  return {
    ops: results.reduce((n, r) => n + r.ops, 0),
    elapsedMs: results.reduce((n, r) => n + r.elapsedMs, 0),
    latenciesMs: concatenate(results.map((r) => r.latenciesMs)),
    cpuMicros: results.reduce((n, r) => n + r.cpuMicros, 0),
  };
}

function cpuPerOp(result: LoadResult): number {
  return result.ops > 0 ? result.cpuMicros / result.ops : 0;
}

function opsPerSecond(result: LoadResult): number {
  return result.elapsedMs > 0 ? (result.ops * 1000) / result.elapsedMs : 0;
}

function concatenate(parts: readonly Float64Array[]): Float64Array {
  const out = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function roundTo(value: number): number {
  return Math.round(value * 1000) / 1000;
}
