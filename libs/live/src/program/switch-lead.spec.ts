import { SwitchLead } from './switch-lead';

describe('SwitchLead (the delay of the feed on air before a trailing feed is spliced in)', () => {
  it('grows at its rate up to its largest delay, so 25 fps frames leave 48 ms apart until then', () => {
    const lead = new SwitchLead(1000, { maxMs: 160, rate: 0.2 });
    expect(lead.delayAt(1000)).toBe(0);
    expect(lead.delayAt(1400)).toBeCloseTo(80);
    expect(lead.delayAt(1800)).toBeCloseTo(160);
    expect(lead.delayAt(5000)).toBe(160);
    // Frames arriving 40 ms apart are written (arrival + delay) 48 ms apart while it grows, 40 once it is full.
    const written = [1000, 1040, 1080].map((t) => t + lead.delayAt(t));
    expect(written[1] - written[0]).toBeCloseTo(48);
    expect(2000 + 40 + lead.delayAt(2040) - (2000 + lead.delayAt(2000))).toBeCloseTo(40);
  });

  it('gives the delay back at the same rate when no switch comes (never reordering tags), and says when it is done', () => {
    const lead = new SwitchLead(0, { maxMs: 160, rate: 0.2, giveUpMs: 3000 });
    expect(lead.delayAt(2000)).toBe(160);
    expect(lead.done(2000)).toBe(false);
    // Past giveUpMs: shrinking from 3000 ms on.
    expect(lead.delayAt(3400)).toBeCloseTo(80);
    let last = -Infinity;
    for (let t = 3000; t < 4000; t += 10) {
      const at = t + lead.delayAt(t);
      expect(at).toBeGreaterThan(last);
      last = at;
    }
    expect(lead.done(3800)).toBe(true);
    expect(lead.delayAt(9000)).toBe(0);
  });

  it('a renewed lead grows again from the delay it had', () => {
    const lead = new SwitchLead(0, { maxMs: 160, rate: 0.2 });
    lead.giveBack(1000);
    expect(lead.delayAt(1200)).toBeCloseTo(160 - 40);
    lead.renew(1200);
    expect(lead.delayAt(1200)).toBeCloseTo(120);
    expect(lead.delayAt(1300)).toBeCloseTo(140);
    expect(lead.done(1300)).toBe(false);
  });

  it('with no largest delay nothing is delayed', () => {
    const lead = new SwitchLead(0, { maxMs: 0 });
    expect(lead.delayAt(5000)).toBe(0);
  });
});
