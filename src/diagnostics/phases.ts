import { DbModuleError, messageOf } from '../errors.js';
import type { LogFields, Logger } from '../logging.js';
import { explain } from './causes.js';

/** @public */
export type PhaseName = 'dsn' | 'config' | 'file' | 'credentials' | 'token' | 'secret' | 'dns' | 'tcp' | 'tls' | 'authentication' | 'ping';
/** @public */
export type PhaseStatus = 'ok' | 'failed' | 'skipped';

/** One step of a connection check, with its time and, on failure, causes and solutions. @public */
export interface CheckPhase {
  phase: PhaseName;
  status: PhaseStatus;
  durationMs: number;
  detail: string;
  code?: string;
  possibleCauses?: string[];
  solutions?: string[];
  /** Things that work but deserve attention (a region mismatch, a token signed for localhost). */
  warnings?: string[];
}

/** Runs phases in order and records each one; a phase fails by throwing. */
export class PhaseRecorder {
  readonly phases: CheckPhase[] = [];

  /** Runs `step`; true when it succeeded. Warnings collected meanwhile are attached to the phase. */
  async run(phase: PhaseName, step: () => Promise<string>, warnings?: string[]): Promise<boolean> {
    const started = performance.now();
    const before = warnings?.length ?? 0;
    let record: CheckPhase;
    try {
      const detail = await step();
      record = { phase, status: 'ok', durationMs: performance.now() - started, detail };
    } catch (error) {
      record = failedPhase(phase, performance.now() - started, error);
    }
    const added = warnings?.slice(before) ?? [];
    if (added.length > 0) record.warnings = added;
    this.phases.push(record);
    return record.status === 'ok';
  }

  skip(phase: PhaseName, detail: string): void {
    this.phases.push({ phase, status: 'skipped', durationMs: 0, detail });
  }
}

/** A logger that keeps warnings and errors as one-line texts (fields included) and drops the rest. */
export function warningCollector(into: string[]): Logger {
  const keep = (message: string, fields?: LogFields): void => {
    const pairs = Object.entries(fields ?? {})
      .filter(([key, value]) => key !== 'connection' && value !== undefined)
      .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`);
    into.push(pairs.length > 0 ? `${message} (${pairs.join(', ')})` : message);
  };
  return { debug() {}, info() {}, warn: keep, error() {} };
}

// --- internal ---

function failedPhase(phase: PhaseName, durationMs: number, error: unknown): CheckPhase {
  const coded = error instanceof DbModuleError ? error : undefined;
  const code = coded?.code ?? 'CONNECT_FAILED';
  const fallback = explain(code);
  return {
    phase,
    status: 'failed',
    durationMs,
    detail: messageOf(error),
    code,
    possibleCauses: coded?.possibleCauses.length ? coded.possibleCauses : fallback.possibleCauses,
    solutions: coded?.solutions.length ? coded.solutions : fallback.solutions,
  };
}
