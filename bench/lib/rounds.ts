/** Interleaved rounds: every contender runs one slice per round, so machine noise hits all of them alike. */

import { runClosedLoop, type LoadOptions, type LoadResult } from './load.js';
import type { ThroughputStats } from './result.js';
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
  if (!contenders.some((c) => c.name === plan.baseline)) throw new Error(`baseline ${plan.baseline} is not a contender`);
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
  const baseline = perRound.get(plan.baseline)!;
  return contenders.map((contender) => {
    const results = perRound.get(contender.name)!;
    const throughput = results.map(opsPerSecond);
    const cpu = results.map(cpuPerOp);
    const p99 = results.map((r) => quantile(r.latenciesMs, 0.99));
    const all = concatenate(results.map((r) => r.latenciesMs));
    return {
      name: contender.name,
      label: contender.label,
      opsPerSecond: roundSummary(summarize(throughput), 1),
      throughputRatio: roundSummary(summarize(throughput.map((value, i) => value / opsPerSecond(baseline[i]!)))),
      p99Ratio: roundSummary(summarize(p99.map((value, i) => value / quantile(baseline[i]!.latenciesMs, 0.99)))),
      cpuMicrosPerOp: roundSummary(summarize(cpu), 2),
      cpuRatio: roundSummary(summarize(cpu.map((value, i) => value / cpuPerOp(baseline[i]!)))),
      p50Ms: roundTo(quantile(all, 0.5)),
      p99Ms: roundTo(quantile(all, 0.99)),
      ops: all.length,
    };
  });
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
