import { ConfigError } from '../errors.js';

/** One configuration problem; a ConfigError lists all of them. */
export interface Problem {
  /** Key path, e.g. `connections.writer.max_open_connections`. */
  readonly path?: string;
  /** Environment variables at fault, when the value came from the environment. */
  readonly variables?: readonly string[];
  readonly message: string;
  readonly connection?: string;
  readonly cause?: unknown;
}

/** Where the values came from, to title the error: `file /etc/app.yaml`, `object`, `default`. */
export interface ProblemContext {
  readonly source: string;
}

function label(problem: Problem): string {
  const variables = problem.variables?.join(', ');
  if (variables && problem.path) return `${variables} (${problem.path})`;
  return variables ?? problem.path ?? 'configuration';
}

function origin(source: string): string {
  if (source.startsWith('file ')) return source;
  if (source === 'object') return 'configuration object';
  return 'defaults';
}

/**
 * One ConfigError (`CONFIG_INVALID`) listing every problem, one per line. `connection` is
 * set when they all belong to one connection; `cause` is the single underlying error, or
 * an AggregateError when several problems had one.
 */
export function configError(problems: readonly Problem[], context: ProblemContext): ConfigError {
  const fromEnv = problems.some((problem) => problem.variables?.length);
  const fromSource = problems.some((problem) => !problem.variables?.length);
  const origins = [...(fromSource ? [origin(context.source)] : []), ...(fromEnv ? ['environment'] : [])];
  const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
  const lines = problems.map((problem) => `  - ${label(problem)}: ${problem.message}`);
  const connections = new Set(problems.map((problem) => problem.connection));
  const [connection] = connections;
  const causes = problems.flatMap((problem) => (problem.cause === undefined ? [] : [problem.cause]));
  const solutions = [
    ...(fromSource && context.source.startsWith('file ') ? [`Correct the keys listed above in ${context.source.slice(5)}`] : []),
    ...(fromSource && !context.source.startsWith('file ') ? ['Correct the keys listed above'] : []),
    ...(fromEnv ? ['Correct or unset the environment variables listed above'] : []),
  ];
  return new ConfigError('CONFIG_INVALID', [`Invalid database configuration (${origins.join(' + ')}): ${count}`, ...lines].join('\n'), {
    ...(connections.size === 1 && connection !== undefined ? { connection } : {}),
    ...(causes.length === 1 ? { cause: causes[0] } : causes.length > 1 ? { cause: new AggregateError(causes, 'several configuration problems') } : {}),
    solutions,
  });
}
