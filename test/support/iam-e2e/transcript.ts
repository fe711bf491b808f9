// What the secret-leak scans read: everything dbmodule says, as text.
import { inspect } from 'node:util';
import { expect } from 'vitest';
import { DbModuleError, type Database, type DatabaseEventName } from '../../../src/index.js';
import { formatLogfmt, type LogFields, type Logger } from '../../../src/logging.js';
import { rejectionOf } from '../rejection.js';

const EVENT_NAMES = [
  'config.loaded',
  'connected',
  'disconnected',
  'connection.error',
  'query.executed',
  'query.error',
  'transaction.started',
  'transaction.committed',
  'transaction.rolled_back',
  'token.refreshed',
  'token.refresh_failed',
  'auth.retried',
  'topology.changed',
  'secret.refreshed',
  'secret.refresh_failed',
  'topology.refresh_failed',
  'failover.started',
  'failover.completed',
  'failover.failed',
  'migration.started',
  'migration.completed',
  'migration.failed',
] as const satisfies readonly DatabaseEventName[];
// Fails to compile when an event is added to DatabaseEvents and not listened to here.
export const everyEvent: [Exclude<DatabaseEventName, (typeof EVENT_NAMES)[number]>] extends [never] ? true : never = true;

/** Everything dbmodule says, as text: log lines (structured and logfmt), events, errors. */
export class Transcript {
  readonly texts: string[] = [];
  readonly logger: Logger;

  constructor() {
    const at = (level: 'debug' | 'info' | 'warn' | 'error') => (message: string, fields?: LogFields) => {
      this.texts.push(formatLogfmt(level, message, fields), `${message} ${inspect(fields, { depth: 8 })}`);
    };
    this.logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
  }

  listen(database: Database): void {
    for (const name of EVENT_NAMES) database.on(name, (payload: unknown) => this.texts.push(`${name} ${JSON.stringify(payload)}`));
  }

  /** The error with its causes, solutions and whole cause chain, as JSON and as `util.inspect` prints it. */
  error(error: unknown): void {
    this.texts.push(inspect(error, { depth: 8, showHidden: true }));
    for (let current: unknown = error, depth = 0; current instanceof Error && depth < 10; current = current.cause, depth += 1) {
      this.texts.push(current.message, String(current.stack));
      if (current instanceof DbModuleError) this.texts.push(JSON.stringify({ ...current, possibleCauses: current.possibleCauses, solutions: current.solutions }));
    }
  }

  /** The DbModuleError `promise` rejects with, recorded; fails the test when it resolves. */
  async failure(promise: Promise<unknown>): Promise<DbModuleError> {
    const error: unknown = await rejectionOf(promise);
    this.error(error);
    expect(error).toBeInstanceOf(DbModuleError);
    return error as DbModuleError;
  }
}
