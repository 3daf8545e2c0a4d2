import { bridgeGives } from './span-rules';

describe('bridgeGives: what a node passes across a bridge of a conference spanning nodes', () => {
  it('a copy gives who is connected to it, and nobody it got from its home', () => {
    expect(bridgeGives(undefined, 'home', false)).toBe(true);
    expect(bridgeGives('home', 'home', false)).toBe(false);
    // A copy is bridged only to its home; a participant of a third node reaches it through the home.
    expect(bridgeGives('n3', 'home', false)).toBe(false);
  });

  it('the home gives its own participants and the other copies\' to each copy, never a copy\'s own back', () => {
    expect(bridgeGives(undefined, 'n2', true)).toBe(true);
    expect(bridgeGives('n3', 'n2', true)).toBe(true);
    expect(bridgeGives('n2', 'n2', true)).toBe(false);
  });
});
