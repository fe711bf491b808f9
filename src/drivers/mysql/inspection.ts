import { inspect } from 'node:util';

/**
 * Keeps the password out of `console.log` / `util.inspect` of mysql2's connection config (and so
 * of the pool and its connections: mysql2 copies the config per connection with its property
 * descriptors, this one included). The password itself stays an ordinary field, as in the bare
 * driver: a peer that spreads `connection.config` (Kysely's control connection) keeps it.
 */
export function redactWhenInspected(config: object): void {
  Object.defineProperty(config, inspect.custom, {
    configurable: true,
    value(this: Record<string, unknown>) {
      return { ...this, ...(this.password === undefined ? {} : { password: '[redacted]' }) };
    },
  });
}
