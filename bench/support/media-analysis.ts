/** Pure analysis of decoded media, for tests that check the media itself. */

export type Rgb = [number, number, number];

/** Mean colour of a rectangle in an rgb24 frame. */
export function meanColor(frame: Buffer, width: number, region: { x: number; y: number; w: number; h: number }): Rgb {
  let r = 0;
  let g = 0;
  let b = 0;
  for (let y = region.y; y < region.y + region.h; y++) {
    for (let x = region.x; x < region.x + region.w; x++) {
      const i = (y * width + x) * 3;
      r += frame[i];
      g += frame[i + 1];
      b += frame[i + 2];
    }
  }
  const n = region.w * region.h;
  return [r / n, g / n, b / n];
}

/** True when every channel is within `tolerance` of the expected colour (YUV 4:2:0 round trips are lossy). */
export function colorNear(actual: Rgb, expected: Rgb, tolerance = 40): boolean {
  return actual.every((v, i) => Math.abs(v - expected[i]) <= tolerance);
}

/** Power of one frequency in a signal (Goertzel). */
export function tonePower(samples: Float32Array, sampleRate: number, frequency: number): number {
  const k = Math.round((samples.length * frequency) / sampleRate);
  const w = (2 * Math.PI * k) / samples.length;
  const coeff = 2 * Math.cos(w);
  let s1 = 0;
  let s2 = 0;
  for (const x of samples) {
    const s0 = x + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  return (s1 * s1 + s2 * s2 - coeff * s1 * s2) / samples.length;
}

/** The strongest frequency among 50 Hz steps from 100 to 4000 Hz. */
export function dominantFrequency(samples: Float32Array, sampleRate: number): number {
  let best = 0;
  let bestPower = -1;
  for (let f = 100; f <= 4000; f += 10) {
    const p = tonePower(samples, sampleRate, f);
    if (p > bestPower) {
      bestPower = p;
      best = f;
    }
  }
  return best;
}

/** Converts s16le PCM to floats in [-1, 1]. */
export function pcmToFloat(pcm: Buffer): Float32Array {
  const out = new Float32Array(Math.floor(pcm.length / 2));
  for (let i = 0; i < out.length; i++) out[i] = pcm.readInt16LE(i * 2) / 32768;
  return out;
}
