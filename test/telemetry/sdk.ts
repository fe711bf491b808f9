// The OpenTelemetry SDK wired for tests: spans in memory (exported as each ends), metrics
// collected on demand, and the async-hooks context manager so `context.active()` follows awaits.
import { context, type AttributeValue, type Attributes } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { DataPointType, MeterProvider, MetricReader, type HistogramMetricData, type MetricData } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';

/** A reader that only collects when asked: no timer, no export interval to wait for. */
class OnDemandReader extends MetricReader {
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }

  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
}

export interface TestTelemetry {
  readonly tracerProvider: BasicTracerProvider;
  readonly meterProvider: MeterProvider;
  /** Spans ended so far, in the order they ended. */
  spans(): ReadableSpan[];
  /** dbmodule's `db.client.operation.duration`, collected now (undefined when nothing was recorded). */
  duration(): Promise<HistogramMetricData | undefined>;
  /** Every metric of dbmodule's scope, collected now (observable instruments are read at this moment). */
  metrics(): Promise<MetricData[]>;
  reset(): void;
  stop(): Promise<void>;
}

export function startTestTelemetry(): TestTelemetry {
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const reader = new OnDemandReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  return {
    tracerProvider,
    meterProvider,
    spans: () => exporter.getFinishedSpans(),
    duration: async () => {
      const { resourceMetrics } = await reader.collect();
      const metric = resourceMetrics.scopeMetrics
        .filter((scope) => scope.scope.name === 'dbmodule')
        .flatMap((scope) => scope.metrics)
        .find((candidate) => candidate.descriptor.name === 'db.client.operation.duration');
      if (metric === undefined) return undefined;
      if (metric.dataPointType !== DataPointType.HISTOGRAM) throw new Error(`db.client.operation.duration is a ${metric.dataPointType}, not a histogram`);
      return metric;
    },
    metrics: async () => {
      const { resourceMetrics } = await reader.collect();
      return resourceMetrics.scopeMetrics.filter((scope) => scope.scope.name === 'dbmodule').flatMap((scope) => scope.metrics);
    },
    reset: () => exporter.reset(),
    stop: async () => {
      await tracerProvider.shutdown();
      await meterProvider.shutdown();
      contextManager.disable();
      context.disable();
    },
  };
}

/** The spans of one statement text, in the order they ended. */
export function spansOf(spans: readonly ReadableSpan[], sql: string): ReadableSpan[] {
  return spans.filter((span) => span.attributes['db.query.text'] === sql);
}

/** The one span of `sql`; fails when there is none or several. */
export function onlySpanOf(spans: readonly ReadableSpan[], sql: string): ReadableSpan {
  const found = spansOf(spans, sql);
  if (found.length !== 1) throw new Error(`expected one span of ${JSON.stringify(sql)}, found ${found.length}`);
  return found[0] as ReadableSpan;
}

/** The id of a span's parent, or undefined for a root. */
export function parentOf(span: ReadableSpan): string | undefined {
  return span.parentSpanContext?.spanId;
}

/**
 * Every string an exporter would send for these spans and measurements: names, attribute keys
 * and values, event names and attributes, status messages, link attributes, resources.
 */
export function exportedText(spans: readonly ReadableSpan[], metricAttributes: readonly Attributes[] = []): string[] {
  const texts: string[] = [];
  const add = (attributes: Attributes | undefined) => {
    for (const [key, value] of Object.entries(attributes ?? {})) {
      texts.push(key);
      for (const item of flatten(value)) texts.push(String(item));
    }
  };
  for (const span of spans) {
    texts.push(span.name);
    if (span.status.message !== undefined) texts.push(span.status.message);
    add(span.attributes);
    add(span.resource.attributes);
    for (const event of span.events) {
      texts.push(event.name);
      add(event.attributes);
    }
    for (const link of span.links) add(link.attributes);
  }
  for (const attributes of metricAttributes) add(attributes);
  return texts;
}

function flatten(value: AttributeValue | undefined): unknown[] {
  return Array.isArray(value) ? value : [value];
}
