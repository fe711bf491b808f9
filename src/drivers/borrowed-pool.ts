/**
 * The native pool as `connection.pool` hands it out: everything passes through to the pool,
 * except what would end it: `end()` (pg, mysql2) ends nothing and calls back, `close()`
 * (a better-sqlite3 Database) closes nothing and returns the view; what `promise()` returns
 * (mysql2's promise wrapper) is such a view too, and a method that returns the pool itself
 * (`pool.on(...)`, chained) returns the view. An ORM's `destroy()` ends its own use; the pool
 * belongs to the connection and closes with `db.close()`.
 *
 * `wrap` (telemetry on, SQLite: the lent Database's `prepare` and `exec` in statement spans) may
 * replace a method by another, once, when the view first hands that method out; without it the
 * view is as it always was.
 */
export function borrowedPool<T extends object>(pool: T, wrap?: (key: PropertyKey, method: (...args: unknown[]) => unknown) => ((...args: unknown[]) => unknown) | undefined): T {
  const methods = new Map<PropertyKey, unknown>();
  const view: T = new Proxy(pool, {
    get(target, key) {
      if (key === 'end') return endsNothing;
      if (key === 'close') return closesNothing;
      const value = Reflect.get(target, key, target) as unknown;
      // own fields pass as they are (pg-pool's `Client` is a class peers construct)
      if (typeof value !== 'function' || Object.hasOwn(target, key)) return value;
      // bound to the pool itself: pools with private fields reject another `this`
      let method = methods.get(key);
      if (method === undefined) {
        const fn = value as (...args: unknown[]) => unknown;
        method =
          key === 'promise'
            ? (...args: unknown[]) => borrowedPool(fn.apply(target, args) as object)
            : (...args: unknown[]) => {
                const result = fn.apply(target, args);
                return result === target ? view : result;
              };
        if (wrap !== undefined) method = wrap(key, method as (...args: unknown[]) => unknown) ?? method;
        methods.set(key, method);
      }
      return method;
    },
  });
  const closesNothing = (): T => view;
  return view;
}

function endsNothing(callback?: unknown): Promise<void> {
  if (typeof callback === 'function') queueMicrotask(() => (callback as (error?: Error | null) => void)(null));
  return Promise.resolve();
}
