import type { TelemetryConfig } from '../config/types.js';

/**
 * An `@opentelemetry/api` `TracerProvider` (the SDK's `NodeTracerProvider`, `BasicTracerProvider`,
 * or `trace.getTracerProvider()`). Declared by its shape so dbmodule's types need no
 * `@opentelemetry/api` installed.
 * @public
 */
export interface TelemetryTracerProvider {
  getTracer(name: string, version?: string, options?: { schemaUrl?: string }): unknown;
}

/**
 * An `@opentelemetry/api` `MeterProvider` (the SDK's `MeterProvider`, or `metrics.getMeterProvider()`),
 * declared by its shape like {@link TelemetryTracerProvider}.
 * @public
 */
export interface TelemetryMeterProvider {
  getMeter(name: string, version?: string, options?: { schemaUrl?: string }): unknown;
}

/**
 * Where dbmodule's spans and metrics go (DESIGN §11). Each provider defaults to the global one
 * of `@opentelemetry/api`, as the OpenTelemetry SDK registers it: start the SDK before
 * `createDatabase` (the API has no stand-in meter that would pick up a later one).
 * @public
 */
export interface TelemetryOptions {
  /** Default: `trace.getTracerProvider()`. */
  readonly tracerProvider?: TelemetryTracerProvider;
  /** Default: `metrics.getMeterProvider()`. */
  readonly meterProvider?: TelemetryMeterProvider;
  /**
   * Appends each statement span's trace context to the statement sent (`connection.query`,
   * `reader().query`, transactions, migrations) as a sqlcommenter comment:
   * `SELECT 1 /*traceparent='00-<trace id>-<span id>-01'*\/`. Default: the configuration's
   * `telemetry.sqlcommenter` (false).
   */
  readonly sqlcommenter?: boolean;
}

/**
 * `createDatabase`'s `telemetry` option: `true` or providers turn telemetry on, `false` off,
 * whatever the configuration's `telemetry.enabled` says; left out, the configuration decides.
 * @public
 */
export type TelemetrySetting = boolean | TelemetryOptions;

/** The options to use, or undefined for telemetry off: the option first, then the configuration. */
export function telemetryOptions(option: TelemetrySetting | undefined, configured: TelemetryConfig | undefined): TelemetryOptions | undefined {
  if (option === false || (option === undefined && configured?.enabled !== true)) return undefined;
  const given = typeof option === 'object' ? option : {};
  return { ...given, sqlcommenter: given.sqlcommenter ?? configured?.sqlcommenter ?? false };
}
