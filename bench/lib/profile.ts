/** How long each comparison measures: `--quick` trades precision for a run under two minutes. */

export interface BenchProfile {
  readonly quick: boolean;
  /** Query path: rounds per case and the length of one contender's slice. */
  readonly queryRounds: number;
  readonly querySliceMs: number;
  /** ...taken as this many alternating slices. */
  readonly querySlices: number;
  readonly queryWarmupMs: number;
  /** Each contender process, once opened: every workload at every concurrency for this long, so its JIT is warm. */
  readonly contenderWarmupMs: number;
  /** IAM storm: rounds per storm size. */
  readonly stormRounds: number;
  /** Token path: rounds, and operations per slice. */
  readonly tokenRounds: number;
  readonly tokenSliceMs: number;
  /** Cold start: process launches per contender. */
  readonly coldStartRounds: number;
  /** Memory: process launches per contender. */
  readonly memoryRounds: number;
  /** Token refresh: rounds, and the length of each measured window. */
  readonly refreshRounds: number;
  readonly refreshWindowMs: number;
  /** Failover: rounds per contender, each a failover to the standby and one back. */
  readonly failoverRounds: number;
}

const FULL: BenchProfile = {
  quick: false,
  queryRounds: 21,
  querySliceMs: 400,
  querySlices: 10,
  queryWarmupMs: 500,
  contenderWarmupMs: 1000,
  stormRounds: 5,
  tokenRounds: 15,
  tokenSliceMs: 200,
  coldStartRounds: 10,
  memoryRounds: 5,
  refreshRounds: 3,
  refreshWindowMs: 20_000,
  failoverRounds: 3,
};

const QUICK: BenchProfile = {
  quick: true,
  queryRounds: 4,
  querySliceMs: 100,
  querySlices: 4,
  queryWarmupMs: 100,
  contenderWarmupMs: 250,
  stormRounds: 1,
  tokenRounds: 5,
  tokenSliceMs: 60,
  coldStartRounds: 3,
  memoryRounds: 2,
  refreshRounds: 2,
  refreshWindowMs: 1_500,
  failoverRounds: 1,
};

/** The profile named by the command line (`--quick`). */
export function profileFromArgs(argv: readonly string[]): BenchProfile {
  return argv.includes('--quick') ? QUICK : FULL;
}

/** The query rounds of `profile` as compareThroughput takes them. */
export function queryRounds(profile: BenchProfile): { rounds: number; sliceMs: number; slices: number; warmupMs: number } {
  return { rounds: profile.queryRounds, sliceMs: profile.querySliceMs, slices: profile.querySlices, warmupMs: profile.queryWarmupMs };
}
