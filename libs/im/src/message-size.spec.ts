import { exceedsJsonBytes, HARD_MESSAGE_BYTES, MAX_EVENT_BYTES } from './message-size';

/** The exact JSON size, to compare the walk against. */
const jsonBytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value), 'utf8');

describe('exceedsJsonBytes', () => {
  const samples: unknown[] = [
    ['media:join', { conferenceId: 'conf_abc' }],
    ['cohost:invite', { channelId: 'studio', userId: 'guest1' }],
    { a: [1, 2.5, -3, true, false, null, 'x'], b: { c: { d: 'ünïcode ✓' } } },
    [],
    {},
    'plain',
  ];

  it('counts a payload as its JSON text (no escapes here, so exactly)', () => {
    for (const value of samples) {
      const size = jsonBytes(value);
      expect({ value, over: exceedsJsonBytes(value, size) }).toEqual({ value, over: false });
      expect({ value, over: exceedsJsonBytes(value, size - 1) }).toEqual({ value, over: true });
    }
  });

  it('does not count the ack callback', () => {
    const event = ['cohost:invite', { channelId: 'studio', userId: 'guest1' }];
    expect(exceedsJsonBytes([...event, () => undefined], jsonBytes(event) - 1)).toBe(true);
    expect(exceedsJsonBytes([...event, () => undefined], jsonBytes(event) + 1)).toBe(false);
  });

  it('tells payloads around the event limit apart', () => {
    const body = (n: number) => ['cohost:apply', { channelId: 'x'.repeat(n) }];
    expect(exceedsJsonBytes(body(60 * 1024), MAX_EVENT_BYTES)).toBe(false);
    expect(exceedsJsonBytes(body(200 * 1024), MAX_EVENT_BYTES)).toBe(true);
    expect(exceedsJsonBytes(body(1024 * 1024), HARD_MESSAGE_BYTES)).toBe(false);
  });

  it('counts multi-byte characters by their UTF-8 bytes and binary by its length', () => {
    // 100 three-byte characters and two quotes.
    expect(exceedsJsonBytes('✓'.repeat(100), 302)).toBe(false);
    expect(exceedsJsonBytes('✓'.repeat(100), 301)).toBe(true);
    expect(exceedsJsonBytes(['e', Buffer.alloc(1000)], 1000)).toBe(true);
    expect(exceedsJsonBytes(['e', new Uint8Array(10)], 1000)).toBe(false);
  });

  it('walks a deeply nested payload without overflowing the stack, and stops early', () => {
    let deep: unknown = 'leaf';
    for (let i = 0; i < 200000; i += 1) deep = [deep];
    expect(exceedsJsonBytes(deep, 10 * 1024 * 1024)).toBe(false);
    expect(exceedsJsonBytes(deep, 1000)).toBe(true);
  });
});
