/** What the migration API takes and reports. */

/** @public */
export interface MigrateOptions {
  /** Apply up to and including this version (default: all). */
  readonly to?: string | number | bigint;
  /** Report what would run; change nothing (the lock is still taken, to report a consistent state). */
  readonly dryRun?: boolean;
}

/** @public */
export interface RollbackOptions {
  /** How many applied migrations to revert, newest first. Default 1. */
  readonly steps?: number;
  readonly dryRun?: boolean;
}

/** One migration in a run's report. @public */
export interface MigrationStepReport {
  readonly version: string;
  readonly name: string;
  /** 0 in a dry run. */
  readonly durationMs: number;
}

/** What `migrate` or `rollback` did (or, with `dryRun`, would do). @public */
export interface MigrationRun {
  readonly connection: string;
  readonly direction: 'up' | 'down';
  readonly dryRun: boolean;
  readonly migrations: readonly MigrationStepReport[];
}

/** One version in `migrationStatus`. @public */
export interface MigrationStatusEntry {
  readonly version: string;
  readonly name: string;
  /** `missing`: in the history table, not in the directory. */
  readonly state: 'applied' | 'pending' | 'dirty' | 'missing';
  readonly appliedAt?: Date;
  readonly durationMs?: number;
  /** Applied, and the file differs from what was applied. */
  readonly changed?: boolean;
  /** Pending below the last applied version (refused unless allow_out_of_order). */
  readonly outOfOrder?: boolean;
}

/** @public */
export interface MigrationStatus {
  readonly connection: string;
  readonly directory: string;
  readonly table: string;
  /** The highest applied version. */
  readonly current?: string;
  readonly dirty?: string;
  readonly pending: number;
  readonly entries: readonly MigrationStatusEntry[];
}
