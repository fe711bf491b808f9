/** The one place tests get the error something failed with, and fail when it did not fail. */
import { AssertionError } from 'node:assert';
import { inspect } from 'node:util';

/** An error as tests look at it: its own fields (`code`, `retryable`, ...) readable without a cast. */
export type Rejection = Error & Record<string, unknown>;

type ErrorClass<E> = abstract new (...args: any[]) => E;

/**
 * Awaits `run` (a promise, or a function returning a value or a promise; a function that throws
 * counts as a rejection) and resolves with the error it failed with. Fails the test, with an
 * AssertionError, when it succeeds, and when `type` is given and the error is not one.
 */
export async function rejectionOf(run: Promise<unknown> | (() => unknown)): Promise<Rejection>;
export async function rejectionOf<E>(run: Promise<unknown> | (() => unknown), type: ErrorClass<E>): Promise<E>;
export async function rejectionOf(run: Promise<unknown> | (() => unknown), type?: ErrorClass<unknown>): Promise<unknown> {
  let value: unknown;
  try {
    value = await (typeof run === 'function' ? run() : run);
  } catch (error) {
    return checked(error, type);
  }
  throw new AssertionError({ message: `expected a rejection, but it resolved with ${brief(value)}` });
}

/**
 * Calls `fn` and returns the error it throws. Fails the test, with an AssertionError, when it
 * returns (a returned promise is a mistake: use rejectionOf), and when `type` is given and the
 * error is not one.
 */
export function thrownBy(fn: () => unknown): Rejection;
export function thrownBy<E>(fn: () => unknown, type: ErrorClass<E>): E;
export function thrownBy(fn: () => unknown, type?: ErrorClass<unknown>): unknown {
  let value: unknown;
  try {
    value = fn();
  } catch (error) {
    return checked(error, type);
  }
  if (value instanceof Promise) throw new AssertionError({ message: 'expected a throw, but it returned a promise (use rejectionOf)' });
  throw new AssertionError({ message: `expected a throw, but it returned ${brief(value)}` });
}

function checked(error: unknown, type: ErrorClass<unknown> | undefined): unknown {
  if (type === undefined || error instanceof type) return error;
  const failure = new AssertionError({ message: `expected a ${type.name}, got ${describe(error)}` });
  failure.cause = error;
  throw failure;
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return `${typeof error}: ${brief(error)}`;
  const { code, retryable } = error as Rejection;
  const fields = [code === undefined ? '' : ` ${String(code)}`, retryable === undefined ? '' : ` retryable=${String(retryable)}`].join('');
  return `${error.constructor.name}${fields}: ${error.message}`;
}

function brief(value: unknown): string {
  const text = inspect(value, { depth: 2, breakLength: Infinity });
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
