/** Closed-loop load: `concurrency` workers each issue one operation after another until the deadline. */

export interface LoadOptions {
  readonly concurrency: number;
  readonly durationMs: number;
}

export interface LoadResult {
  /** Operations completed (an operation in flight at the deadline still counts when it ends). */
  readonly ops: number;
  /** From the first start to the last completion. */
  readonly elapsedMs: number;
  /** One latency per operation, in completion order. */
  readonly latenciesMs: Float64Array;
  /**
   * CPU time of this process (user + system, all threads) over the run, in microseconds. Far less
   * sensitive than wall time to other processes competing for the cores.
   */
  readonly cpuMicros: number;
}

/**
 * Runs `operation(sequence)` from `concurrency` workers until `durationMs` has passed.
 * `sequence` numbers operations across workers, so every contender gets the same inputs in the
 * same order. A failing operation fails the whole measurement: a benchmark that counts errors
 * as fast operations would flatter whoever fails.
 */
export async function runClosedLoop(operation: (sequence: number) => Promise<unknown>, options: LoadOptions): Promise<LoadResult> {
  let latencies = new Float64Array(4096);
  let ops = 0;
  let sequence = 0;
  let lastEnd = 0;
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const deadline = started + options.durationMs;

  const worker = async (): Promise<void> => {
    while (performance.now() < deadline) {
      const begin = performance.now();
      await operation(sequence++);
      const end = performance.now();
      if (ops === latencies.length) {
        const grown = new Float64Array(latencies.length * 2);
        grown.set(latencies);
        latencies = grown;
      }
      latencies[ops++] = end - begin;
      lastEnd = end;
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  const cpu = process.cpuUsage(cpuBefore);
  return { ops, elapsedMs: lastEnd - started, latenciesMs: latencies.slice(0, ops), cpuMicros: cpu.user + cpu.system };
}

/** A small deterministic PRNG (mulberry32), so every contender and every run looks up the same keys. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` keys drawn uniformly from 1..`max`. */
export function keySequence(count: number, max: number, seed = 42): Int32Array {
  const random = seededRandom(seed);
  const keys = new Int32Array(count);
  for (let i = 0; i < count; i++) keys[i] = 1 + Math.floor(random() * max);
  return keys;
}
