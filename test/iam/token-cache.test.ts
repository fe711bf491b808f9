import { describe, expect, it } from 'vitest';
import { TokenCache, tokenCacheKey, type CachedToken } from '../../src/iam/token-cache.js';

const target = { host: 'db.x.us-east-1.rds.amazonaws.com', port: 5432, user: 'app', region: 'us-east-1' };

function entry(key: string, expiresAt: number): CachedToken {
  return { key, token: `token-for-${key}`, issuedAt: 0, hardExpiresAt: expiresAt + 60_000, expiresAt, refreshAt: expiresAt / 2, credentialExpiresAt: undefined, credentialSource: 'static', accessKeyIdSuffix: 'ABCD' };
}

describe('tokenCacheKey', () => {
  it('differs for every signed input and for the credential identity', () => {
    const keys = [
      tokenCacheKey(target, 'AKIA1:-'),
      tokenCacheKey({ ...target, host: 'db.y.us-east-1.rds.amazonaws.com' }, 'AKIA1:-'),
      tokenCacheKey({ ...target, port: 5433 }, 'AKIA1:-'),
      tokenCacheKey({ ...target, user: 'other' }, 'AKIA1:-'),
      tokenCacheKey({ ...target, region: 'us-east-2' }, 'AKIA1:-'),
      tokenCacheKey(target, 'AKIA2:-'),
      tokenCacheKey(target, 'AKIA1:abcdef'),
      // Field boundaries cannot be forged by a user name containing a separator.
      tokenCacheKey({ ...target, user: 'a:b' }, 'c'),
      tokenCacheKey({ ...target, user: 'a' }, 'b:c'),
    ];
    expect(new Set(keys).size).toBe(keys.length);
    expect(tokenCacheKey(target, 'AKIA1:-')).toBe(tokenCacheKey({ ...target }, 'AKIA1:-'));
  });
});

describe('TokenCache', () => {
  it('returns an entry only before its expiresAt and prunes the rest', () => {
    const cache = new TokenCache();
    cache.set(entry('a', 1000));
    cache.set(entry('b', 5000));
    expect(cache.get('a', 999)?.token).toBe('token-for-a');
    expect(cache.get('a', 1000)).toBeUndefined();
    expect(cache.size).toBe(1);
    cache.prune(5000);
    expect(cache.size).toBe(0);
    cache.set(entry('c', 10));
    expect(JSON.stringify(cache)).toBe('{"size":1}');
  });
});
