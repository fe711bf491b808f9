/**
 * The child side of one comparison: the runner forks `comparisons/<name>.js` with the run's
 * arguments, and the comparison sends back one {@link ComparisonResult} over IPC.
 */

import { profileFromArgs, type BenchProfile } from './profile.js';
import type { ComparisonResult } from './result.js';

export type ComparisonBody = (profile: BenchProfile, args: readonly string[]) => Promise<Omit<ComparisonResult, 'durationMs'>>;

/**
 * Runs `body` and reports its result to the parent (or prints it when run by hand), then exits:
 * pools and SDK timers a contender leaves behind must not keep the process alive.
 */
export function runComparison(body: ComparisonBody): void {
  const args = process.argv.slice(2);
  const started = performance.now();
  body(profileFromArgs(args), args).then(
    (result) => {
      const full: ComparisonResult = { ...result, durationMs: Math.round(performance.now() - started) };
      if (process.send) process.send({ type: 'result', result: full }, () => process.exit(0));
      else {
        process.stdout.write(`${JSON.stringify(full, null, 2)}\n`);
        process.exit(0);
      }
    },
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(1);
    },
  );
}
