import { cohostMixSettings } from './mix-settings';

describe('cohostMixSettings', () => {
  it('matches the host push', () => {
    expect(cohostMixSettings({ width: 640, height: 360, fps: 15, sampleRate: 44100, channels: 1 })).toEqual({
      video: { width: 640, height: 360, fps: 15, bitrateKbps: 300, gopSeconds: 1 },
      audio: { sampleRate: 44100, channels: 1, bitrateKbps: 128 },
    });
  });

  it('falls back to 720p25 stereo 48 kHz when nothing is known, and bounds odd values', () => {
    expect(cohostMixSettings({})).toEqual({
      video: { width: 1280, height: 720, fps: 25, bitrateKbps: 2300, gopSeconds: 1 },
      audio: { sampleRate: 48000, channels: 2, bitrateKbps: 128 },
    });
    expect(cohostMixSettings({ width: 4001, height: 3001, fps: 59.94, sampleRate: 22050 }).video).toEqual({
      width: 1920, height: 1080, fps: 30, bitrateKbps: 4000, gopSeconds: 1,
    });
  });
});
