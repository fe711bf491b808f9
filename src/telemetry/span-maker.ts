import type { Attributes, Context, Link, Span, Tracer } from '@opentelemetry/api';
import { ATTR, errorType } from './attributes.js';
import type { OpenTelemetryApi } from './load-api.js';

/**
 * Making dbmodule's INTERNAL spans. Work a caller waits for (a token signed for the session it
 * needs, a refused login, a topology read on demand, the wait for a pool session) is a child of
 * the caller's span; work done ahead of need (a token refreshed before it expires, the periodic
 * topology refresh) and a failover (shared by every caller, started by whichever noticed first,
 * which it links to) start a trace of their own.
 *
 * The suppress-tracing flag is ignored: dbmodule sets it around every driver call (so a driver
 * instrumentation adds no second CLIENT span), and the session openings these spans describe run
 * inside those calls. The SDK has one flag for dbmodule's suppression and an application's, so
 * an application's suppression does not hide these spans either (they are never a driver's duplicate).
 */
export class InternalSpans {
  readonly #api: OpenTelemetryApi;
  readonly #tracer: Tracer;
  readonly #suppress: symbol;

  constructor(api: OpenTelemetryApi, tracer: Tracer, suppress: symbol) {
    this.#api = api;
    this.#tracer = tracer;
    this.#suppress = suppress;
  }

  get api(): OpenTelemetryApi {
    return this.#api;
  }

  /** The context an INTERNAL span starts in: a root for background work, else the active one, tracing unsuppressed. */
  parent(background: boolean): Context {
    const api = this.#api;
    if (background) return api.ROOT_CONTEXT;
    const active = api.context.active();
    return active.getValue(this.#suppress) === true ? active.deleteValue(this.#suppress) : active;
  }

  /** Starts an INTERNAL span in `parent` (`startTime`: performance.now() milliseconds, for work already done). */
  start(name: string, attributes: Attributes, parent: Context, startTime?: number, links?: Link[]): Span {
    const { SpanKind } = this.#api;
    return this.#tracer.startSpan(
      name,
      { kind: SpanKind.INTERNAL, attributes, ...(startTime === undefined ? {} : { startTime }), ...(links === undefined ? {} : { links }) },
      parent,
    );
  }

  /** Marks `span` failed with `type` (an `error.type`: a code, never a message, which may quote a value). */
  fail(span: Span, type: string): void {
    span.setAttribute(ATTR.errorType, type);
    span.setStatus({ code: this.#api.SpanStatusCode.ERROR, message: type });
  }

  /**
   * Runs `work` in `span` (started in `parent`), active while it runs, then ends it: `done` adds
   * what the result says; a rejection sets `error.type` and status ERROR (and what `failed` adds)
   * and is rethrown.
   */
  async run<T>(span: Span, parent: Context, work: () => Promise<T>, done: (result: T) => void, failed?: () => void): Promise<T> {
    const api = this.#api;
    try {
      const result = await api.context.with(api.trace.setSpan(parent, span), work);
      done(result);
      return result;
    } catch (error) {
      this.fail(span, errorType(error));
      failed?.();
      throw error;
    } finally {
      span.end();
    }
  }

  /** A link to the span active now, if there is a valid one (what started a failover). */
  linkToActive(): Link[] | undefined {
    const api = this.#api;
    const context = api.trace.getSpanContext(api.context.active());
    return context !== undefined && api.trace.isSpanContextValid(context) ? [{ context }] : undefined;
  }
}
