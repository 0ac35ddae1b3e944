// The size budgets in src/protocol/limits.ts against the real encoding: the
// frames are serialized by the same grpc-js definitions host and SDK use, and
// what they add beyond their payloads must stay within the budget.
import { describe, expect, it } from 'vitest';

import { BATCH_ITEM_OVERHEAD, FRAME_OVERHEAD } from '../../../src/protocol/limits.js';
import { PluginService } from '../../../src/protocol/services.js';

const channel = PluginService.Channel!;
const hostFrame = (frame: object): number => channel.requestSerialize(frame).length;
const pluginFrame = (frame: object): number => channel.responseSerialize(frame).length;
// A large id and payloads over 2 MiB make every varint its widest in practice.
const MAX_ID = 0xffffffff;
const payload = (n: number): Uint8Array => new Uint8Array(n);

describe('wire limits', () => {
  it('a call or a result adds at most FRAME_OVERHEAD beyond its payload and method name', () => {
    const method = 'a'.repeat(100);
    const size = 3 << 20;
    expect(hostFrame({ id: MAX_ID, call: { method, payload: payload(size) } }) - size - method.length).toBeLessThanOrEqual(FRAME_OVERHEAD);
    expect(pluginFrame({ id: MAX_ID, result: { payload: payload(size) } }) - size).toBeLessThanOrEqual(FRAME_OVERHEAD);
  });

  it('each batch item, in either direction, costs at most BATCH_ITEM_OVERHEAD beyond its payload', () => {
    const count = 8;
    const size = 1 << 21;
    const payloads = Array.from({ length: count }, () => payload(size));
    const request = hostFrame({ id: MAX_ID, batch: { method: 'm', payloads } }) - hostFrame({ id: MAX_ID, batch: { method: 'm', payloads: [] } });
    const response =
      pluginFrame({ id: MAX_ID, batchResult: { results: payloads.map((p) => ({ payload: p })) } }) - pluginFrame({ id: MAX_ID, batchResult: { results: [] } });
    expect((request - count * size) / count).toBeLessThanOrEqual(BATCH_ITEM_OVERHEAD);
    expect((response - count * size) / count).toBeLessThanOrEqual(BATCH_ITEM_OVERHEAD);
    // The response side is the one that needs more than the 8 bytes the host once assumed.
    expect((response - count * size) / count).toBeGreaterThan(8);
  });
});
