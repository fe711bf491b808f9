/**
 * The bare driver pool with the driver's own OpenTelemetry instrumentation
 * (`@opentelemetry/instrumentation-pg`, `-mysql2`) into the same SDK as dbmodule's telemetry
 * contenders (otel.ts): what tracing costs an application that uses the driver without dbmodule,
 * the yardstick for what dbmodule's telemetry costs.
 */

import { barePgPool } from './postgres.js';
import { bareMysqlPool } from './mysql.js';
import type { QueryTarget, Route } from './target.js';
import type { Engine } from '../lib/databases.js';

export async function bareDriverOtel(engine: Engine, route: Route): Promise<QueryTarget> {
  const { startBenchSdk } = await import('./otel.js');
  const sdk = startBenchSdk(false);
  // enabled before this process first loads the driver: it patches pg / mysql2 as they are required
  const instrumentation =
    engine === 'postgres' ? new (await import('@opentelemetry/instrumentation-pg')).PgInstrumentation() : new (await import('@opentelemetry/instrumentation-mysql2')).MySQL2Instrumentation();
  instrumentation.setTracerProvider(sdk.tracerProvider);
  instrumentation.setMeterProvider(sdk.meterProvider);
  const bare = engine === 'postgres' ? await barePgPool(route) : await bareMysqlPool(route);
  let statements = 0;
  return {
    name: 'bare-otel',
    label: `${bare.label} + ${engine === 'postgres' ? 'instrumentation-pg' : 'instrumentation-mysql2'}`,
    run: (sql, params) => {
      statements += 1;
      return bare.run(sql, params);
    },
    verify: () => sdk.verifyDriverSpans(statements),
    close: async () => {
      await bare.close();
      instrumentation.disable();
      await sdk.shutdown();
    },
  };
}
