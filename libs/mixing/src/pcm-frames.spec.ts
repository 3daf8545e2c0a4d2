import { AudioMixer } from './audio-mixer';
import { PcmFrames } from './pcm-frames';

/** Stereo s16le frames with left = right = the given values. */
const stereo = (values: number[]) => {
  const b = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => {
    b.writeInt16LE(v, i * 4);
    b.writeInt16LE(v, i * 4 + 2);
  });
  return b;
};

describe('PcmFrames', () => {
  it('passes whole frames and holds a partial one for the next chunk', () => {
    const f = new PcmFrames(4);
    const pcm = stereo([1000, -2000, 3000]);
    expect(f.push(pcm.subarray(0, 5))).toEqual(pcm.subarray(0, 4));
    expect(f.push(pcm.subarray(5, 7))).toBeUndefined();
    expect(f.push(pcm.subarray(7))).toEqual(pcm.subarray(4));
  });

  it("keeps the mixer's samples aligned when a decoder is replaced mid-frame", () => {
    const mixer = new AudioMixer({ sampleRate: 48000, channels: 2, startMs: 0 });
    // The old decoder's last write stopped 3 bytes into a frame; the new decoder's output follows.
    const old = new PcmFrames(4);
    const tail = stereo([111, 222]);
    const pushed = old.push(tail.subarray(0, 7));
    if (pushed) mixer.push('a', pushed);
    const fresh = new PcmFrames(4);
    mixer.push('a', fresh.push(stereo([5000, 5000, 5000]))!);
    const out = mixer.mix(4);
    const samples = [0, 1, 2, 3].map((i) => out.readInt16LE(i * 4));
    expect(samples).toEqual([111, 5000, 5000, 5000]);
    // Without it the stream is read 3 bytes off: noise.
    const broken = new AudioMixer({ sampleRate: 48000, channels: 2, startMs: 0 });
    broken.push('a', tail.subarray(0, 7));
    broken.push('a', stereo([5000, 5000, 5000]));
    const wrong = broken.mix(4);
    expect([1, 2, 3].map((i) => wrong.readInt16LE(i * 4))).not.toEqual([5000, 5000, 5000]);
  });

  it('refuses a bad frame size', () => {
    expect(() => new PcmFrames(0)).toThrow(/frame size/);
  });
});
