import { booleanResult } from './boolean.js';
import { describeReceived, isPlainObject } from './describe.js';
import type { EnvOverlay } from './env.js';
import type { Problem } from './problems.js';
import { issuePath, parseAll, rawTelemetrySchema, TELEMETRY_KEYS, unknownKeys } from './schema.js';
import { suggest } from './suggest.js';
import type { TelemetryConfig } from './types.js';

/**
 * The section's `telemetry` block (from `source`) with `DB_TELEMETRY_ENABLED` laid over it:
 * undefined when neither is there. Problems name `telemetry.<key>` or the variable; the
 * source of `telemetry.enabled` is recorded in `sources`.
 */
export function resolveTelemetry(
  raw: unknown,
  source: string,
  overlay: EnvOverlay['telemetry'],
  sources: Map<string, string>,
  problems: Problem[],
): TelemetryConfig | undefined {
  let enabled: boolean | undefined;
  const present = raw !== undefined && raw !== null;
  if (present && !isPlainObject(raw)) {
    problems.push({ path: 'telemetry', message: `expected a mapping, received ${describeReceived(raw)}` });
  } else if (present) {
    const parsed = parseAll(rawTelemetrySchema, raw);
    if (parsed.success) {
      enabled = parsed.output.enabled;
      sources.set('telemetry.enabled', enabled === undefined ? 'default' : source);
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
  if (overlay) {
    const parsed = booleanResult(overlay.enabled);
    if (!parsed.ok) {
      problems.push({ path: 'telemetry.enabled', variables: [overlay.variable], message: parsed.problem });
    } else {
      enabled = parsed.value;
      sources.set('telemetry.enabled', `env ${overlay.variable}`);
    }
  }
  if (!present && !overlay) return undefined;
  if (!sources.has('telemetry.enabled')) sources.set('telemetry.enabled', 'default');
  return Object.freeze({ enabled: enabled ?? false });
}
