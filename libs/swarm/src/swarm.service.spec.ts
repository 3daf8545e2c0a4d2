import { ChannelNotFoundError } from '@gw/live';
import type { ChannelP2pSettings } from '@gw/persistence';
import { SwarmService } from './swarm.service';

const config = { substreams: 4, group: 1, maxPeersPerViewer: 8, maxConsumersPerPeer: 8, uploadKbps: 4000, peerWaitMs: 1500, urgentMs: 1000 };

describe('SwarmService (the tracker)', () => {
  const settings = new Map<string, ChannelP2pSettings | undefined>([['tv', undefined], ['off', { enabled: false, substreams: 4, group: 1 }]]);
  const make = () => {
    const swarms = new SwarmService(config, (id) => {
      if (!settings.has(id)) throw new ChannelNotFoundError(id);
      return settings.get(id);
    });
    const sent: { peerId: string; event: string; payload: any }[] = [];
    swarms.on('send', (peerId, event, payload) => sent.push({ peerId, event, payload }));
    return { swarms, sent };
  };

  it('tells the others their new part when a viewer joins or leaves, and adapts s to the audience', () => {
    const { swarms, sent } = make();
    const a = swarms.join('tv', 'ua');
    expect(a).toMatchObject({ s: 1, substream: 1, providers: [], consumers: [] });
    const b = swarms.join('tv', 'ub');
    expect(b).toMatchObject({ s: 2, substream: 2, providers: [{ peerId: a.peerId, substream: 1 }] });
    expect(sent).toEqual([{ peerId: a.peerId, event: 'p2p:plan', payload: expect.objectContaining({ s: 2, substream: 1, consumers: [b.peerId] }) }]);
    sent.length = 0;
    swarms.leave(b.peerId);
    swarms.leave(b.peerId); // idempotent
    expect(sent).toEqual([{ peerId: a.peerId, event: 'p2p:plan', payload: expect.objectContaining({ s: 1, providers: [], consumers: [] }) }]);
    expect(swarms.layout('tv')).toEqual({ s: 1, a: 1 });
  });

  it('passes signals only within one swarm, sums reports that only grow, and refuses a channel that does not share', () => {
    const { swarms, sent } = make();
    settings.set('tv2', undefined);
    const a = swarms.join('tv', 'ua');
    const b = swarms.join('tv', 'ub');
    const c = swarms.join('tv2', 'uc');
    sent.length = 0;
    swarms.signal(a.peerId, b.peerId, { candidate: null });
    expect(sent).toEqual([{ peerId: b.peerId, event: 'p2p:swarm-signal', payload: { channelId: 'tv', fromPeerId: a.peerId, candidate: null } }]);
    expect(() => swarms.signal(a.peerId, c.peerId, { candidate: null })).toThrow(expect.objectContaining({ code: 'P2P_NOT_IN_SWARM' }));
    expect(() => swarms.signal('pe_none', b.peerId, { candidate: null })).toThrow(expect.objectContaining({ code: 'P2P_NOT_IN_SWARM' }));
    const report = { bytesFromPeers: 300, bytesFromOrigin: 100, blocksFromPeers: 3, blocksFromOrigin: 1, rejectedBlocks: 1, bytesToPeers: 50 };
    swarms.report(a.peerId, report);
    swarms.report(a.peerId, { ...report, bytesFromPeers: 10 });
    swarms.leave(a.peerId);
    expect(swarms.status('tv')).toMatchObject({ viewers: 1, bytesFromPeers: 300, rejectedBlocks: 1, peerShare: 0.75 });
    expect(() => swarms.join('off', 'ud')).toThrow(expect.objectContaining({ code: 'P2P_DISABLED' }));
    expect(() => swarms.join('nosuch', 'ud')).toThrow(ChannelNotFoundError);
  });
});
