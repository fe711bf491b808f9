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
}

/**
 * `createDatabase`'s `telemetry` option: `true` or providers turn telemetry on, `false` off,
 * whatever the configuration's `telemetry.enabled` says; left out, the configuration decides.
 * @public
 */
export type TelemetrySetting = boolean | TelemetryOptions;

/** The providers to use, or undefined for telemetry off: the option first, then the configuration. */
export function telemetryProviders(option: TelemetrySetting | undefined, configured: boolean): TelemetryOptions | undefined {
  if (option === undefined) return configured ? {} : undefined;
  if (option === false) return undefined;
  return option === true ? {} : option;
}
