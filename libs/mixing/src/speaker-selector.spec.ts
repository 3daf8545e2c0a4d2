import { SpeakerSelector } from './speaker-selector';

describe('SpeakerSelector', () => {
  it('takes the first speaker at once, then switches only after confirm and hold times', () => {
    const s = new SpeakerSelector(1000, 2500);
    s.observe('a', 0);
    expect(s.current(0)).toBe('a');
    s.observe('b', 500);
    expect(s.current(1400)).toBe('a'); // b not confirmed yet
    expect(s.current(2600)).toBe('b'); // confirmed (2.1 s) and held (2.6 s)
  });

  it('ignores a short interjection', () => {
    const s = new SpeakerSelector(1000, 2500);
    s.observe('a', 0);
    s.current(0);
    s.observe('b', 3000);
    s.observe('a', 3500);
    expect(s.current(5000)).toBe('a');
  });

  it('forgets a speaker who left', () => {
    const s = new SpeakerSelector();
    s.observe('a', 0);
    s.current(0);
    s.remove('a');
    expect(s.current(10)).toBeUndefined();
  });
});
