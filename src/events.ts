import { EventEmitter } from 'node:events';
import type { DriverName } from './driver-name.js';

/**
 * Every event dbmodule emits, with its payload. Each carries the connection name;
 * query events carry the SQL text and duration but never parameters.
 * @public
 */
export interface DatabaseEvents {
  'config.loaded': { connection: string; connections: string[]; default: string };
  connected: { connection: string; driver: DriverName; durationMs: number };
  disconnected: { connection: string; driver: DriverName };
  'connection.error': { connection: string; driver: DriverName; code: string; message: string; operation: 'connect' | 'acquire' | 'query' | 'close' };
  'query.executed': { connection: string; sql: string; durationMs: number; rowCount: number; inTransaction: boolean };
  'query.error': { connection: string; sql: string; durationMs: number; code: string; message: string; inTransaction: boolean };
  'transaction.started': { connection: string; isolation: string; depth: number };
  'transaction.committed': { connection: string; durationMs: number; depth: number };
  'transaction.rolled_back': { connection: string; durationMs: number; depth: number; reason: string };
  /** `assumedRoleArn`: the role the signing credentials were assumed from (aws_iam_auth.role_arn). */
  'token.refreshed': { connection: string; expiresAt: number; credentialSource: string; accessKeyIdSuffix: string; assumedRoleArn?: string };
  'token.refresh_failed': { connection: string; code: string; message: string; attempt: number };
  'auth.retried': { connection: string; attempt: number; code: string; delayMs: number };
  /** A secret's login was fetched (`reason`: the first fetch, `refresh` after secrets_manager.refresh, `rejected` after the server refused the cached one). Never a value. */
  'secret.refreshed': { connection: string; secretId: string; versionId: string; reason: SecretFetchReason; durationMs: number };
  'secret.refresh_failed': { connection: string; secretId: string; reason: SecretFetchReason; code: string; message: string };
  /** The cluster's instances or roles changed (ids; never an address that came from a secret). */
  'topology.changed': { connection: string; source: string; writer?: string; readers: string[]; added: string[]; removed: string[] };
  'topology.refresh_failed': { connection: string; source: string; code: string; message: string };
  /** The writer stopped answering as one: `reason` is `network`, `read-only` or `topology`; `from` its instance id. */
  'failover.started': { connection: string; from: string; reason: FailoverReason; code?: string };
  /** Writes go to `to` (an instance id; `from` when the writer came back as one). */
  'failover.completed': { connection: string; from: string; to: string; durationMs: number };
  'failover.failed': { connection: string; from: string; durationMs: number; message: string };
  'migration.started': { connection: string; id: string; version: string };
  'migration.completed': { connection: string; id: string; version: string; durationMs: number };
  'migration.failed': { connection: string; id: string; version: string; durationMs: number; message: string };
}

/** Why a secret was fetched. @public */
export type SecretFetchReason = 'initial' | 'refresh' | 'rejected';

/** What started a failover: a network error on the writer, a read-only error on a write, or a topology naming another writer. @public */
export type FailoverReason = 'network' | 'read-only' | 'topology';

/** @public */
export type DatabaseEventName = keyof DatabaseEvents;

/** @public */
export type DatabaseEventListener<E extends DatabaseEventName> = (event: DatabaseEvents[E]) => void;

/**
 * A typed event emitter. A listener that throws is isolated: the error is reported
 * to the `onListenerError` hook and never reaches the query that emitted the event.
 * @public
 */
export class DatabaseEventEmitter {
  readonly #emitter = new EventEmitter();
  readonly #onListenerError: (error: unknown, event: DatabaseEventName) => void;

  constructor(onListenerError: (error: unknown, event: DatabaseEventName) => void = () => {}) {
    this.#emitter.setMaxListeners(0);
    this.#onListenerError = onListenerError;
  }

  on<E extends DatabaseEventName>(event: E, listener: DatabaseEventListener<E>): this {
    this.#emitter.on(event, listener);
    return this;
  }

  once<E extends DatabaseEventName>(event: E, listener: DatabaseEventListener<E>): this {
    this.#emitter.once(event, listener);
    return this;
  }

  off<E extends DatabaseEventName>(event: E, listener: DatabaseEventListener<E>): this {
    this.#emitter.off(event, listener);
    return this;
  }

  /** True when someone listens: callers skip building payloads otherwise. */
  has(event: DatabaseEventName): boolean {
    return this.#emitter.listenerCount(event) > 0;
  }

  emit<E extends DatabaseEventName>(event: E, payload: DatabaseEvents[E]): void {
    for (const listener of this.#emitter.rawListeners(event) as Array<DatabaseEventListener<E>>) {
      try {
        listener(payload);
      } catch (error) {
        this.#onListenerError(error, event);
      }
    }
  }
}
