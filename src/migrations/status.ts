import type { MigrationsConfig } from '../config/types.js';
import type { MigrationFile } from './files.js';
import type { AppliedMigration } from './history.js';
import type { MigrationStatus, MigrationStatusEntry } from './types.js';

/** The directory against the history: every version, applied, pending, dirty or missing from the directory. */
export function statusOf(connection: string, settings: MigrationsConfig, files: readonly MigrationFile[], applied: readonly AppliedMigration[]): MigrationStatus {
  const byVersion = new Map(applied.map((entry) => [entry.version, entry]));
  const last = lastVersion(applied);
  const entries: MigrationStatusEntry[] = files.map((file) => {
    const entry = byVersion.get(file.version);
    if (!entry) return { version: String(file.version), name: file.name, state: 'pending', ...(file.version < last ? { outOfOrder: true } : {}) };
    return {
      version: String(file.version),
      name: file.name,
      state: entry.dirty ? 'dirty' : 'applied',
      appliedAt: entry.appliedAt,
      durationMs: entry.durationMs,
      ...(entry.checksum !== file.checksum ? { changed: true } : {}),
    };
  });
  const known = new Set(files.map((file) => file.version));
  for (const entry of applied) {
    if (!known.has(entry.version)) entries.push({ version: String(entry.version), name: entry.name, state: entry.dirty ? 'dirty' : 'missing', appliedAt: entry.appliedAt, durationMs: entry.durationMs });
  }
  entries.sort((a, b) => (BigInt(a.version) < BigInt(b.version) ? -1 : 1));
  const dirty = applied.find((entry) => entry.dirty);
  return {
    connection,
    directory: settings.directory,
    table: settings.table,
    ...(last >= 0n ? { current: String(last) } : {}),
    ...(dirty ? { dirty: String(dirty.version) } : {}),
    pending: entries.filter((entry) => entry.state === 'pending').length,
    entries,
  };
}

/** The highest applied version; -1 with none. */
export function lastVersion(applied: readonly AppliedMigration[]): bigint {
  return applied.reduce((max, entry) => (entry.version > max ? entry.version : max), -1n);
}
