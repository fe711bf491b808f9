/** What a command may touch: injected so tests run commands in-process. */
export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  env: Record<string, string | undefined>;
  cwd: string;
  /**
   * How `exec` connects its child: `inherit` gives it this process's terminal (the real CLI);
   * `pipe` (default) sends its output through `stdout`/`stderr` above, for in-process use.
   */
  stdio?: 'inherit' | 'pipe';
}

/** Exit codes: 0 success, 1 a check or operation failed, 2 bad usage or configuration. */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** Bad usage: printed with the usage text, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}
