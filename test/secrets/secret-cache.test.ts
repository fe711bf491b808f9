// The secret cache's rules on their own, with a source that answers what each test says (the
// Secrets Manager side is tested against the emulator in rotation.test.ts): refresh after
// `refresh` in the background, a backoff after a failed refresh instead of a fetch per opening,
// and one fetch for every refusal of one login.
import { describe, expect, it } from 'vitest';
import { DbModuleError } from '../../src/errors.js';
import { SecretCache } from '../../src/secrets/secret-cache.js';
import type { SecretSource } from '../../src/secrets/secret-source.js';
import type { SecretLogin } from '../../src/secrets/types.js';
import { fakeClock } from '../support/fake-clock.js';

const plan = { secretId: 'app/db', region: 'us-east-1', regionSource: 'secrets_manager.region' as const, refreshMs: 60 * 60 * 1000 };

/** A source handing out the logins (or errors) it is given, one per fetch, and counting fetches. */
function scriptedSource(answers: Array<SecretLogin | DbModuleError>): SecretSource & { fetches: number } {
  const source = {
    fetches: 0,
    async fetch(): Promise<SecretLogin> {
      const answer = answers[Math.min(source.fetches, answers.length - 1)]!;
      source.fetches += 1;
      if (answer instanceof DbModuleError) throw answer;
      return answer;
    },
    close(): void {},
  };
  return source;
}

const login = (version: string, password = `pw-${version}`): SecretLogin => ({ user: 'app', password, versionId: version });
const unavailable = new DbModuleError('SECRET_UNAVAILABLE', 'connection "app": could not read secret "app/db" from AWS Secrets Manager: InternalServiceError: down');

describe('SecretCache', () => {
  it('refreshes in the background after refresh; a failed refresh keeps the login and backs off instead of fetching per opening', async () => {
    const clock = fakeClock();
    const source = scriptedSource([login('v1'), unavailable, unavailable, login('v2')]);
    const outcomes: string[] = [];
    const cache = new SecretCache({ source, plan, clock, onFetched: ({ reason, login: got, error }) => outcomes.push(`${reason}:${got?.versionId ?? error?.code}`) });
    await cache.ready();
    expect(cache.current().versionId).toBe('v1');

    clock.advance(plan.refreshMs);
    // the opening due for a refresh still gets the login held
    expect(cache.current().versionId).toBe('v1');
    await Promise.resolve();
    await new Promise((resolve) => setImmediate(resolve));
    expect(source.fetches).toBe(2);
    expect(cache.state()).toMatchObject({ status: 'valid', versionId: 'v1', consecutiveFailures: 1, lastError: { code: 'SECRET_UNAVAILABLE', reason: 'refresh' } });
    // every opening meanwhile: no fetch until the backoff (at least 0.5 s, at most 1 s at first) has passed
    for (let i = 0; i < 20; i++) expect(cache.current().versionId).toBe('v1');
    clock.advance(400);
    cache.current();
    expect(source.fetches).toBe(2);
    clock.advance(61_000);
    cache.current();
    await new Promise((resolve) => setImmediate(resolve));
    expect(source.fetches).toBe(3);
    clock.advance(61_000);
    cache.current();
    await new Promise((resolve) => setImmediate(resolve));
    expect(source.fetches).toBe(4);
    expect(cache.current().versionId).toBe('v2');
    expect(outcomes).toEqual(['initial:v1', 'refresh:SECRET_UNAVAILABLE', 'refresh:SECRET_UNAVAILABLE', 'refresh:v2']);
    expect(cache.state()).toMatchObject({ consecutiveFailures: 0, fetches: 4 });
  });

  it('50 sessions refused with one login: one fetch, all told the login changed', async () => {
    const source = scriptedSource([login('v1'), login('v2')]);
    const cache = new SecretCache({ source, plan, clock: fakeClock(), onFetched: () => {} });
    await cache.ready();
    const changed = await Promise.all(Array.from({ length: 50 }, () => cache.rejected('pw-v1')));
    expect(source.fetches).toBe(2);
    expect(changed.every(Boolean)).toBe(true);
    // a refusal of a login already replaced fetches nothing
    expect(await cache.rejected('pw-v1')).toBe(true);
    expect(source.fetches).toBe(2);
  });

  it('a login refused again within the rejection window is not fetched again', async () => {
    const source = scriptedSource([login('v1')]);
    const cache = new SecretCache({ source, plan, clock: fakeClock(), onFetched: () => {} });
    await cache.ready();
    expect(await cache.rejected('pw-v1')).toBe(false);
    expect(await cache.rejected('pw-v1')).toBe(false);
    expect(source.fetches).toBe(2);
  });
});
