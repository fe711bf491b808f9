/**
 * The OpenTelemetry SDK as a production service wires it, minus the network: spans through a
 * `BatchSpanProcessor` (the SDK's defaults: 2048 queued, batches of 512, every 5 s) to an exporter
 * that counts and drops them, `context.active()` kept by `AsyncLocalStorageContextManager` (what
 * `@opentelemetry/sdk-node` registers on Node), and metrics through a `PeriodicExportingMetricReader`
 * to an exporter that drops them. What the processes pay is the SDK's own work and dbmodule's.
 */

import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { DataPointType, MeterProvider, PeriodicExportingMetricReader, type PushMetricExporter, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  type ReadableSpan,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base';

/** How often the metric reader collects and exports: more often than the SDK's 60 s default, so every slice pays for some collections. */
export const METRIC_EXPORT_INTERVAL_MS = 1_000;
/** The sampled contender keeps this share of root traces (`ParentBased(TraceIdRatioBased)`). */
export const SAMPLED_RATIO = 0.1;

type ExportCallback = Parameters<SpanExporter['export']>[1];
/** `ExportResultCode.SUCCESS` of @opentelemetry/core (not a dependency of the suite). */
const SUCCESS = 0;

/** Counts the spans it is handed and drops them, like an OTLP exporter whose sends cost nothing. */
class DroppingSpanExporter implements SpanExporter {
  spans = 0;
  names = new Set<string>();

  export(spans: ReadableSpan[], done: ExportCallback): void {
    this.spans += spans.length;
    if (this.names.size < 8) for (const span of spans) this.names.add(span.name);
    done({ code: SUCCESS });
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/** Drops every collection, remembering how many `db.client.operation.duration` measurements the last one held. */
class DroppingMetricExporter implements PushMetricExporter {
  exports = 0;
  durationCount = 0;

  export(metrics: ResourceMetrics, done: ExportCallback): void {
    this.exports += 1;
    let count = 0;
    for (const scope of metrics.scopeMetrics) {
      for (const metric of scope.metrics) {
        if (metric.descriptor.name !== 'db.client.operation.duration' || metric.dataPointType !== DataPointType.HISTOGRAM) continue;
        for (const point of metric.dataPoints) count += point.value.count;
      }
    }
    this.durationCount = count;
    done({ code: SUCCESS });
  }

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

export interface BenchSdk {
  readonly tracerProvider: BasicTracerProvider;
  readonly meterProvider: MeterProvider;
  /**
   * Flushes both pipelines and checks they carried dbmodule's telemetry: spans exported (about
   * `SAMPLED_RATIO` of the statements when sampled) and the histogram counting every statement.
   * Answers a line for the comparison's findings.
   */
  verify(statements: number): Promise<string>;
  /** Flushes the spans and checks a driver instrumentation traced every statement (at least one span each). */
  verifyDriverSpans(statements: number): Promise<string>;
  shutdown(): Promise<void>;
}

/** Starts the SDK and registers its context manager globally, as `NodeSDK.start()` does. */
export function startBenchSdk(sampled: boolean): BenchSdk {
  const contextManager = new AsyncLocalStorageContextManager().enable();
  if (!context.setGlobalContextManager(contextManager)) throw new Error('another OpenTelemetry context manager is already registered');
  const spans = new DroppingSpanExporter();
  const tracerProvider = new BasicTracerProvider({
    spanProcessors: [new BatchSpanProcessor(spans)],
    ...(sampled ? { sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(SAMPLED_RATIO) }) } : {}),
  });
  const metrics = new DroppingMetricExporter();
  const meterProvider = new MeterProvider({ readers: [new PeriodicExportingMetricReader({ exporter: metrics, exportIntervalMillis: METRIC_EXPORT_INTERVAL_MS })] });
  return {
    tracerProvider,
    meterProvider,
    verify: async (statements) => {
      await tracerProvider.forceFlush();
      await meterProvider.forceFlush();
      const share = spans.spans / statements;
      const [low, high] = sampled ? [SAMPLED_RATIO / 2, SAMPLED_RATIO * 2] : [0.99, 1.01];
      if (share < low || share > high) throw new Error(`${spans.spans} spans exported for ${statements} statements (expected ${low}–${high} of them)`);
      if (metrics.durationCount < statements) throw new Error(`db.client.operation.duration counted ${metrics.durationCount} of ${statements} statements`);
      return `${spans.spans} spans exported for ${statements} statements (${[...spans.names].join(', ')}); db.client.operation.duration counted ${metrics.durationCount}`;
    },
    verifyDriverSpans: async (statements) => {
      await tracerProvider.forceFlush();
      if (spans.spans < statements) throw new Error(`${spans.spans} spans exported for ${statements} statements (expected one at least for each)`);
      return `${spans.spans} spans exported for ${statements} statements (${[...spans.names].join(', ')})`;
    },
    shutdown: async () => {
      await tracerProvider.shutdown();
      await meterProvider.shutdown();
      contextManager.disable();
      context.disable();
    },
  };
}
