import { deriveChannelStatus } from './channel-status';

describe('deriveChannelStatus', () => {
  it.each([
    [{ hostPublishing: false, mixPublishing: false, cohosting: false }, { state: 'idle', source: 'none' }],
    [{ hostPublishing: true, mixPublishing: false, cohosting: false }, { state: 'live', source: 'host' }],
    [{ hostPublishing: true, mixPublishing: true, cohosting: true }, { state: 'cohosting', source: 'mix' }],
    [{ hostPublishing: false, mixPublishing: true, cohosting: false }, { state: 'live', source: 'mix' }],
    [{ hostPublishing: true, mixPublishing: false, cohosting: true }, { state: 'cohosting', source: 'host' }],
  ])('%j -> %j', (activity, expected) => {
    expect(deriveChannelStatus(activity)).toEqual(expected);
  });
});
