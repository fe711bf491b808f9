import type { SpanContext } from '@opentelemetry/api';

/** W3C trace flags as two hex digits (`01`: sampled). */
function hexFlags(flags: number): string {
  return (flags & 0xff).toString(16).padStart(2, '0');
}

/** A sqlcommenter value: URL-encoded, and `'` (which encodeURIComponent keeps) too, so it cannot end the quoted value. */
function quoted(value: string): string {
  return `'${encodeURIComponent(value).replaceAll("'", '%27')}'`;
}

/**
 * `sql` with the span's W3C trace context appended as a sqlcommenter comment
 * (https://google.github.io/sqlcommenter/spec/): `SELECT 1 /*traceparent='00-<trace id>-<span id>-01'*\/`,
 * with `tracestate` when the context has one, keys sorted. A trailing semicolon stays last (a
 * MySQL server without multiple statements refuses anything after it).
 *
 * Left as it is, as the OpenTelemetry instrumentations leave it: a text that already holds a
 * comment (`/*` or `--`: the application's own sqlcommenter, an ORM's hint, or a comment that a
 * second one could break), and a context that names no trace (no SDK, or an invalid parent).
 */
export function withTraceComment(sql: string, context: SpanContext, valid: (context: SpanContext) => boolean): string {
  if (!valid(context) || sql.includes('/*') || sql.includes('--')) return sql;
  let comment = `traceparent=${quoted(`00-${context.traceId}-${context.spanId}-${hexFlags(context.traceFlags)}`)}`;
  const state = context.traceState?.serialize();
  if (state) comment += `,tracestate=${quoted(state)}`;
  const end = sql.trimEnd();
  return end.endsWith(';') ? `${end.slice(0, -1)} /*${comment}*/;` : `${end} /*${comment}*/`;
}
