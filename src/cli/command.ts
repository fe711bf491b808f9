import type { ParseArgsConfig } from 'node:util';
import type { CliIo } from './io.js';

/**
 * One `dbmodule` subcommand. Commands import this module, never `run.ts`, which loads them
 * lazily: so no command module and `run.ts` import each other.
 */
export interface Command {
  summary: string;
  options: NonNullable<ParseArgsConfig['options']>;
  /** The command parses its own flags: it gets every argument as a positional. */
  raw?: boolean;
  /** Returns the exit code, or undefined for a command that keeps running (emulate). */
  run(args: CommandArgs, io: CliIo): Promise<number | undefined>;
}

/** What `parseArgs` gave a command: its flags (common ones included) and positionals. */
export interface CommandArgs {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}
