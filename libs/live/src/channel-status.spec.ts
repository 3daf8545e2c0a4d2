import { deriveChannelStatus } from './channel-status';

describe('deriveChannelStatus', () => {
  it.each([
    [{ programOnAir: false, cohosting: false }, { state: 'idle', source: 'none' }],
    [{ programOnAir: false, feed: 'host' as const, cohosting: false }, { state: 'idle', source: 'none' }],
    [{ programOnAir: true, feed: 'host' as const, cohosting: false }, { state: 'live', source: 'host' }],
    [{ programOnAir: true, feed: 'mix' as const, cohosting: true }, { state: 'cohosting', source: 'mix' }],
    [{ programOnAir: true, feed: 'mix' as const, cohosting: false }, { state: 'live', source: 'mix' }],
    [{ programOnAir: true, feed: 'host' as const, cohosting: true }, { state: 'cohosting', source: 'host' }],
    [{ programOnAir: false, cohosting: true }, { state: 'cohosting', source: 'none' }],
  ])('%j -> %j', (activity, expected) => {
    expect(deriveChannelStatus(activity)).toEqual(expected);
  });
});
