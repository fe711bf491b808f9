import { booleanResult } from './boolean.js';
import { describeReceived, isPlainObject } from './describe.js';
import type { EnvOverlay, TelemetryKey } from './env.js';
import type { Problem } from './problems.js';
import { issuePath, parseAll, rawTelemetrySchema, TELEMETRY_KEYS, unknownKeys } from './schema.js';
import { suggest } from './suggest.js';
import type { TelemetryConfig } from './types.js';

/**
 * The section's `telemetry` block (from `source`) with `DB_TELEMETRY_ENABLED` and
 * `DB_TELEMETRY_SQLCOMMENTER` laid over it: undefined when none is there. Problems name
 * `telemetry.<key>` or the variable; the source of each key is recorded in `sources`.
 */
export function resolveTelemetry(
  raw: unknown,
  source: string,
  overlay: EnvOverlay['telemetry'],
  sources: Map<string, string>,
  problems: Problem[],
): TelemetryConfig | undefined {
  const values: Partial<Record<TelemetryKey, boolean>> = {};
  const present = raw !== undefined && raw !== null;
  if (present && !isPlainObject(raw)) {
    problems.push({ path: 'telemetry', message: `expected a mapping, received ${describeReceived(raw)}` });
  } else if (present) {
    const parsed = parseAll(rawTelemetrySchema, raw);
    if (parsed.success) {
      for (const key of KEYS) {
        const value = parsed.output[key];
        if (value !== undefined) {
          values[key] = value;
          sources.set(`telemetry.${key}`, source);
        }
      }
    }
    for (const issue of parsed.issues ?? []) {
      const unknown = unknownKeys(issue, TELEMETRY_KEYS);
      if (!unknown) {
        problems.push({ path: ['telemetry', ...issuePath(issue)].join('.'), message: issue.message });
        continue;
      }
      for (const key of unknown) {
        const guess = suggest(key, TELEMETRY_KEYS);
        problems.push({ path: `telemetry.${key}`, message: `unknown key${guess ? `; did you mean \`${guess}\`?` : ` (accepted: ${TELEMETRY_KEYS.join(', ')})`}` });
      }
    }
  }
  for (const key of KEYS) {
    const set = overlay?.[key];
    if (set === undefined) continue;
    const parsed = booleanResult(set.value);
    if (!parsed.ok) {
      problems.push({ path: `telemetry.${key}`, variables: [set.variable], message: parsed.problem });
    } else {
      values[key] = parsed.value;
      sources.set(`telemetry.${key}`, `env ${set.variable}`);
    }
  }
  if (!present && overlay === undefined) return undefined;
  for (const key of KEYS) if (!sources.has(`telemetry.${key}`)) sources.set(`telemetry.${key}`, 'default');
  return Object.freeze({ enabled: values.enabled ?? false, sqlcommenter: values.sqlcommenter ?? false });
}

const KEYS: readonly TelemetryKey[] = ['enabled', 'sqlcommenter'];
