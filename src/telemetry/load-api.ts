import { DbModuleError } from '../errors.js';

/** `@opentelemetry/api` as dbmodule uses it. */
export type OpenTelemetryApi = typeof import('@opentelemetry/api');

const PACKAGE = '@opentelemetry/api';
let cached: Promise<OpenTelemetryApi> | undefined;

/**
 * Loads `@opentelemetry/api` (an optional peer dependency) when telemetry is turned on, and only
 * then. A missing package is `DRIVER_NOT_INSTALLED` (dbmodule's code for any optional package
 * it needs and cannot find) with the install command; that outcome is not memoised, so
 * installing the package and retrying works without a restart. Tests pass their own `importer`.
 */
export function loadOpenTelemetryApi(importer?: () => Promise<OpenTelemetryApi>): Promise<OpenTelemetryApi> {
  if (importer) return load(importer);
  cached ??= load(() => import('@opentelemetry/api')).catch((error: unknown) => {
    cached = undefined;
    throw error;
  });
  return cached;
}

async function load(importer: () => Promise<OpenTelemetryApi>): Promise<OpenTelemetryApi> {
  try {
    return await importer();
  } catch (error) {
    if (!isModuleNotFound(error)) throw error;
    throw new DbModuleError('DRIVER_NOT_INSTALLED', `telemetry is on but "${PACKAGE}" is not installed; run: npm install ${PACKAGE}`, {
      possibleCauses: [`"${PACKAGE}" is an optional peer dependency of dbmodule and is not in node_modules`],
      solutions: [`npm install ${PACKAGE}`, 'or turn telemetry off: telemetry.enabled: false (DB_TELEMETRY_ENABLED=false), or createDatabase(config, { telemetry: false })'],
      cause: error,
    });
  }
}

function isModuleNotFound(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
}
