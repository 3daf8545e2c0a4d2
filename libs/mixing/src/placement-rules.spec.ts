import type { MixTaskSpec } from './mix-task';
import { lostNode, nodesWithRoom, specAfterPatch } from './placement-rules';

const node = (id: string, budget: number, reserved: number, silentForMs = 300, state: 'up' | 'gone' = 'up') => ({ id, state, cpuBudget: budget, cpuReserved: reserved, silentForMs });

describe('mix placement rules', () => {
  it('offers the other nodes with room for the cost, most room first, never itself or a lost node', () => {
    const nodes = [node('n1', 1.6, 0), node('n2', 1.6, 1.0), node('n3', 1.6, 0.4), node('n4', 1.6, 0, 4000), node('n5', 1.6, 0, 100, 'gone'), node('n6', 1.6, 1.4)];
    expect(nodesWithRoom(nodes, 0.4, 'n1').map((n) => n.id)).toEqual(['n3', 'n2']);
    expect(nodesWithRoom(nodes, 0.7, 'n1').map((n) => n.id)).toEqual(['n3']);
    expect(nodesWithRoom(nodes, 2, 'n1')).toEqual([]);
    // Equal room: by id, so that every node orders them alike.
    expect(nodesWithRoom([node('b', 1, 0), node('a', 1, 0)], 0.4, 'x').map((n) => n.id)).toEqual(['a', 'b']);
  });

  it('a node is lost for its mixes after 1.5 s of silence, when gone, or when not listed', () => {
    expect(lostNode(node('n1', 1, 0, 1400))).toBe(false);
    expect(lostNode(node('n1', 1, 0, 1600))).toBe(true);
    expect(lostNode(node('n1', 1, 0, 0, 'gone'))).toBe(true);
    expect(lostNode(undefined)).toBe(true);
  });

  it('a moved mix starts with the layout, outputs, overlays and names its patches left', () => {
    const spec: MixTaskSpec = { conferenceId: 'c', outputs: ['rtmp://a/x', 'rtmp://b/y'], layout: { mode: 'grid' }, settings: { video: { width: 640, height: 360, fps: 15, bitrateKbps: 800, gopSeconds: 2 }, audio: { sampleRate: 48000, channels: 2, bitrateKbps: 96 } }, background: {} };
    const after = specAfterPatch(spec, { sequence: 1, layout: { mode: 'speaker' }, removeOutputs: ['rtmp://a/x'], addOutputs: ['rtmp://c/z', 'rtmp://b/y'], names: false });
    expect(after).toMatchObject({ outputs: ['rtmp://b/y', 'rtmp://c/z'], layout: { mode: 'speaker' }, names: false });
    expect(specAfterPatch(spec, { sequence: 2 })).toEqual(spec);
    expect(spec.outputs).toEqual(['rtmp://a/x', 'rtmp://b/y']);
  });
});
