import { FLV_SCRIPT } from './flv';
import { aacConfigInfo, metadataNumber } from './flv-info';
import { aacConfig, asTag, rawTag } from './testing/flv-tags';

function amfNumberEntry(key: string, value: number): number[] {
  const b = Buffer.alloc(2 + key.length + 1 + 8);
  b.writeUInt16BE(key.length, 0);
  b.write(key, 2, 'latin1');
  b[2 + key.length] = 0;
  b.writeDoubleBE(value, 3 + key.length);
  return [...b];
}

describe('FLV source info', () => {
  it('reads numbers from onMetaData', () => {
    const payload = [2, 0, 10, ...Buffer.from('onMetaData'), 8, 0, 0, 0, 3, ...amfNumberEntry('width', 640), ...amfNumberEntry('height', 360), ...amfNumberEntry('framerate', 15)];
    const tag = asTag(rawTag(FLV_SCRIPT, 0, payload));
    expect([metadataNumber(tag, 'width'), metadataNumber(tag, 'height'), metadataNumber(tag, 'framerate')]).toEqual([640, 360, 15]);
    expect(metadataNumber(tag, 'audiosamplerate')).toBeUndefined();
  });

  it('reads the AAC AudioSpecificConfig', () => {
    // 0x12 0x10: AAC LC, 44100 Hz (index 4), 2 channels. 0x11 0x90: 48000 Hz (index 3), 2 channels.
    expect(aacConfigInfo(asTag(aacConfig(0)))).toEqual({ sampleRate: 44100, channels: 2 });
    const raw = aacConfig(0);
    raw[13] = 0x11;
    raw[14] = 0x88;
    expect(aacConfigInfo(asTag(raw))).toEqual({ sampleRate: 48000, channels: 1 });
  });
});
