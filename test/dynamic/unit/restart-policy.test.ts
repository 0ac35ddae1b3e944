// The restart policy on its own: the backoff before each restart and the
// crash window that gives a crash-looping slot up. Times are passed in, so
// nothing here waits.
import { describe, expect, it } from 'vitest';

import { CrashWindow, DEFAULT_RESTART, restartPolicy } from '../../../src/dynamic/restart-policy.js';

describe('restartPolicy', () => {
  it('fills what is not given from the defaults', () => {
    expect(restartPolicy(undefined)).toEqual(DEFAULT_RESTART);
    expect(restartPolicy({ maxRestarts: 1 })).toEqual({ ...DEFAULT_RESTART, maxRestarts: 1 });
  });
});

describe('CrashWindow', () => {
  const policy = restartPolicy({ maxRestarts: 5, windowMs: 1_000, initialBackoffMs: 100, maxBackoffMs: 500 });

  it('doubles the backoff with each crash in the window, up to the maximum', () => {
    const window = new CrashWindow(policy);
    expect([0, 1, 2, 3, 4].map((t) => window.crashed(t))).toEqual([100, 200, 400, 500, 500]);
    expect(window.crashes).toBe(5);
  });

  it('gives up on the crash after maxRestarts within the window', () => {
    const window = new CrashWindow(policy);
    for (let t = 0; t < 5; t++) expect(window.crashed(t)).not.toBeNull();
    expect(window.crashed(5)).toBeNull();
    expect(window.crashes).toBe(6);
  });

  it('forgets crashes older than the window, so a slow crasher is restarted forever at the first backoff', () => {
    const window = new CrashWindow(policy);
    for (let i = 0; i < 20; i++) expect(window.crashed(i * 1_000)).toBe(100);
    expect(window.crashes).toBe(1);
  });

  it('keeps a crash for just under windowMs', () => {
    const window = new CrashWindow(policy);
    expect(window.crashed(0)).toBe(100);
    expect(window.crashed(999)).toBe(200);
    // 1999 is exactly windowMs after 999 (and more after 0): both have left.
    expect(window.crashed(1_999)).toBe(100);
    expect(window.crashes).toBe(1);
  });

  it('starts over after reset (a reload)', () => {
    const window = new CrashWindow(policy);
    for (let t = 0; t < 6; t++) window.crashed(t);
    window.reset();
    expect(window.crashes).toBe(0);
    expect(window.crashed(10)).toBe(100);
  });

  it('with maxRestarts 0, never restarts', () => {
    expect(new CrashWindow(restartPolicy({ maxRestarts: 0 })).crashed(0)).toBeNull();
  });
});
