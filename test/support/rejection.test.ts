import { AssertionError } from 'node:assert';
import { describe, expect, it } from 'vitest';
import { ConfigError, DbModuleError } from '../../src/errors.js';
import { rejectionOf, thrownBy } from './rejection.js';

const configError = () => new ConfigError('CONFIG_INVALID', 'bad config', { possibleCauses: [], solutions: [] });

describe('rejectionOf', () => {
  it('resolves with the error a promise rejects with, or a function throws or rejects with', async () => {
    const error = new Error('boom');
    expect(await rejectionOf(Promise.reject(error))).toBe(error);
    expect(
      await rejectionOf(() => {
        throw error;
      }),
    ).toBe(error);
    expect(await rejectionOf(async () => Promise.reject(error))).toBe(error);
  });

  it('fails with an AssertionError when the promise resolves or the function returns', async () => {
    // not rejectionOf itself to catch its own failure: a plain .then, so this test cannot pass by the helper's fault
    const resolved = await rejectionOf(Promise.resolve(42)).then(
      () => 'no failure',
      (failure: unknown) => failure,
    );
    expect(resolved).toBeInstanceOf(AssertionError);
    expect((resolved as Error).message).toBe('expected a rejection, but it resolved with 42');
    await expect(rejectionOf(() => 'fine')).rejects.toThrow(AssertionError);
  });

  it('with a class, returns an error of that class and fails on any other, naming what came', async () => {
    const error = configError();
    const typed: ConfigError = await rejectionOf(Promise.reject(error), ConfigError);
    expect(typed).toBe(error);
    expect(await rejectionOf(Promise.reject(error), DbModuleError)).toBe(error);
    const other = new TypeError('not ours');
    const failure = await rejectionOf(rejectionOf(Promise.reject(other), DbModuleError), AssertionError);
    expect(failure.message).toBe('expected a DbModuleError, got TypeError: not ours');
    expect(failure.cause).toBe(other);
  });
});

describe('thrownBy', () => {
  it('returns the error a function throws, typed when a class is given', () => {
    const error = configError();
    expect(
      thrownBy(() => {
        throw error;
      }, ConfigError),
    ).toBe(error);
  });

  it('fails with an AssertionError when the function returns, or returns a promise', () => {
    expect(() => thrownBy(() => 1)).toThrow(new AssertionError({ message: 'expected a throw, but it returned 1' }));
    expect(() => thrownBy(() => Promise.reject(new Error('late')).catch(() => {}))).toThrow(/returned a promise \(use rejectionOf\)/);
    expect(() => thrownBy(() => {
      throw new TypeError('x');
    }, ConfigError)).toThrow(/expected a ConfigError, got TypeError: x/);
  });
});
