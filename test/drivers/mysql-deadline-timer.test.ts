import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DeadlineTimer } from '../../src/drivers/mysql/deadline-timer.js';

interface Item {
  readonly name: string;
  readonly deadline: number;
}

// fake timers also fake Date.now: deadlines are exact, nothing waits on the real clock
beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 });
});
afterEach(() => {
  vi.useRealTimers();
});

function item(name: string, inMs: number): Item {
  return { name, deadline: Date.now() + inMs };
}

describe('DeadlineTimer (one timer for all MySQL pool waiters)', () => {
  it('expires every item at its own deadline, earliest first, whatever the order they were added in', () => {
    const expired: string[] = [];
    const timer = new DeadlineTimer<Item>((i) => expired.push(i.name));
    timer.add(item('a', 100));
    timer.add(item('b', 150));
    timer.add(item('c', 120));
    vi.advanceTimersByTime(99);
    expect(expired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(expired).toEqual(['a']);
    vi.advanceTimersByTime(19);
    expect(expired).toEqual(['a']);
    vi.advanceTimersByTime(1);
    expect(expired).toEqual(['a', 'c']);
    vi.advanceTimersByTime(30);
    expect(expired).toEqual(['a', 'c', 'b']);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('never expires a deleted item, and leaves no timer once nothing is watched', () => {
    const expired: string[] = [];
    const timer = new DeadlineTimer<Item>((i) => expired.push(i.name));
    const first = item('first', 50);
    const second = item('second', 80);
    timer.add(first);
    timer.add(second);
    expect(vi.getTimerCount()).toBe(1);
    timer.delete(first);
    vi.advanceTimersByTime(60);
    expect(expired).toEqual([]);
    timer.delete(second);
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(1_000);
    expect(expired).toEqual([]);
  });

  it('an item added while another expires, or with an earlier deadline than the armed one, still expires on time', () => {
    const expired: Array<[string, number]> = [];
    const start = Date.now();
    const timer = new DeadlineTimer<Item>((i) => {
      expired.push([i.name, Date.now() - start]);
      if (i.name === 'late') timer.add(item('added-on-expiry', 40));
    });
    timer.add(item('late', 200));
    timer.add(item('early', 30));
    vi.advanceTimersByTime(300);
    expect(expired).toEqual([
      ['early', 30],
      ['late', 200],
      ['added-on-expiry', 240],
    ]);
  });
});
