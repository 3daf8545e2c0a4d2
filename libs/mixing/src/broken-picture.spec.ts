import { BROKEN_PICTURE } from './mix-input';

describe('BROKEN_PICTURE', () => {
  it("matches what ffmpeg 5.1 prints for a picture broken by a lost packet, and not the demuxer's audio-and-video loss line", () => {
    // Lines seen from a mix decoder at 5 % loss on a Chromium sender's uplink (lossy bench).
    expect(BROKEN_PICTURE.test('[sdp @ 0x55d3bcb0ca00] Missed a picture, sequence broken')).toBe(true);
    expect(BROKEN_PICTURE.test('[sdp @ 0x55d3bcb0ca00] Received no start marker; dropping frame')).toBe(true);
    expect(BROKEN_PICTURE.test('[h264 @ 0x5654e60353c0] error while decoding MB 12 8, bytestream -5')).toBe(true);
    expect(BROKEN_PICTURE.test('[h264 @ 0x5654e60353c0] concealing 120 DC, 120 AC, 120 MV errors in P frame')).toBe(true);
    expect(BROKEN_PICTURE.test('[sdp @ 0x55d3bcb0ca00] RTP: missed 1 packets')).toBe(false);
    expect(BROKEN_PICTURE.test('[sdp @ 0x55d3bcb0ca00] max delay reached. need to consume packet')).toBe(false);
  });
});
