import { AudioMixer } from './audio-mixer';

const pcm = (value: number, frames: number, channels = 2) => {
  const b = Buffer.alloc(frames * channels * 2);
  for (let i = 0; i < frames * channels; i++) b.writeInt16LE(value, i * 2);
  return b;
};
const first = (b: Buffer) => b.readInt16LE(0);

describe('AudioMixer', () => {
  const options = { sampleRate: 1000, channels: 2, startMs: 10, maxMs: 50 };

  it('sums playing sources with their gains and clips', () => {
    const mixer = new AudioMixer(options);
    mixer.push('a', pcm(1000, 20));
    mixer.push('b', pcm(2000, 20));
    expect(first(mixer.mix(10))).toBe(3000);
    mixer.setGain('b', 0);
    expect(first(mixer.mix(5))).toBe(1000);
    mixer.setGain('b', 2);
    mixer.setGain('a', 5); // clamped to 2
    expect(first(mixer.mix(5))).toBe(6000);
    mixer.push('a', pcm(30000, 20));
    mixer.push('b', pcm(30000, 20));
    expect(first(mixer.mix(5))).toBe(32767);
  });

  it('waits for a source to fill its start buffer, pads underruns with silence', () => {
    const mixer = new AudioMixer(options);
    mixer.push('a', pcm(500, 5)); // 5 ms < 10 ms start
    expect(first(mixer.mix(5))).toBe(0);
    mixer.push('a', pcm(500, 5));
    const out = mixer.mix(20);
    expect(out.readInt16LE(0)).toBe(500);
    expect(out.readInt16LE(19 * 4)).toBe(0); // ran out after 10 frames
  });

  it('flushes a muted source at once and lets it refill before it plays again', () => {
    const mixer = new AudioMixer(options);
    mixer.push('a', pcm(700, 40));
    mixer.push('b', pcm(100, 40));
    expect(first(mixer.mix(5))).toBe(800);
    mixer.flush('a');
    mixer.flush('nobody');
    expect(first(mixer.mix(5))).toBe(100);
    mixer.push('a', pcm(700, 5)); // under the start buffer again
    expect(first(mixer.mix(5))).toBe(100);
    mixer.push('a', pcm(700, 10));
    expect(first(mixer.mix(5))).toBe(800);
  });

  it('names the loudest playing source above the floor', () => {
    const mixer = new AudioMixer(options);
    for (let i = 0; i < 50; i++) {
      mixer.push('quiet', pcm(10, 10));
      mixer.push('loud', pcm(8000, 10));
      mixer.mix(10);
    }
    expect(mixer.loudest()).toBe('loud');
    const silent = new AudioMixer(options);
    silent.push('a', pcm(0, 20));
    silent.mix(10);
    expect(silent.loudest()).toBeUndefined();
  });

  it('drops the oldest audio when a source bursts past its maximum', () => {
    const mixer = new AudioMixer(options);
    mixer.push('a', pcm(1, 40));
    mixer.push('a', pcm(2, 40)); // 80 ms > 50 ms: keep the newest 10 ms
    expect(first(mixer.mix(1))).toBe(2);
  });
});
