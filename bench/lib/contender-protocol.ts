/** Messages between a query-path comparison and its contender processes (processes/contender.ts). */

import type { Route } from '../contenders/target.js';
import type { Engine } from './databases.js';

/** Every query-path contender, by the name results use. */
export type ContenderKind = 'bare' | 'bare-otel' | 'dbmodule-query' | 'dbmodule-query-unchecked' | 'dbmodule-query-otel' | 'dbmodule-query-otel-sampled' | 'dbmodule-pool' | 'dbmodule-reader' | 'wrapper';
export type Workload = 'select1' | 'pk';
export const WORKLOADS: readonly Workload[] = ['select1', 'pk'];
export const CONCURRENCIES: readonly number[] = [1, 32];

export type ContenderCall =
  | { readonly op: 'open'; readonly engine: Engine; readonly route: Route; readonly kind: ContenderKind; readonly warmupMs: number }
  | { readonly op: 'slice'; readonly workload: Workload; readonly concurrency: number; readonly durationMs: number }
  | { readonly op: 'gc'; readonly kind: 'major' | 'minor' }
  | { readonly op: 'close' };

/** What each call answers (besides `id`, or `error` when it failed). */
export interface ContenderAnswers {
  /** `verified`: what the contender's own check after warm-up found (QueryTarget.verify), when it has one. */
  open: { readonly label: string; readonly verified?: string };
  slice: { readonly ops: number; readonly elapsedMs: number; readonly latenciesMs: number[]; readonly cpuMicros: number };
  gc: Record<string, never>;
  /** `listenerWarnings`: MaxListenersExceededWarnings the process printed. */
  close: { readonly listenerWarnings: number };
}
