/** Outcome of converting one raw value: the value, or a path-free description of the problem. */
export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly problem: string };

/** @internal */
export function ok<T>(value: T): Parsed<T> {
  return { ok: true, value };
}

/** @internal */
export function fail<T = never>(problem: string): Parsed<T> {
  return { ok: false, problem };
}
