import { Amf0Error, decodeAmf0, decodeCommand, encodeAmf0 } from './amf0';

describe('AMF0', () => {
  it('decodes the bytes of a connect command as ffmpeg sends them', () => {
    // "connect", 1, {app: "live", tcUrl: "rtmp://h/live", fpad: false, audioCodecs: 4071}
    const bytes = Buffer.concat([
      Buffer.from('0200', 'hex'), Buffer.from([7]), Buffer.from('connect'),
      Buffer.from('003ff0000000000000', 'hex'),
      Buffer.from([0x03]),
      Buffer.from([0, 3]), Buffer.from('app'), Buffer.from([0x02, 0, 4]), Buffer.from('live'),
      Buffer.from([0, 5]), Buffer.from('tcUrl'), Buffer.from([0x02, 0, 13]), Buffer.from('rtmp://h/live'),
      Buffer.from([0, 4]), Buffer.from('fpad'), Buffer.from([0x01, 0]),
      Buffer.from([0, 11]), Buffer.from('audioCodecs'), Buffer.from('0040afce0000000000', 'hex'),
      Buffer.from([0, 0, 9]),
    ]);
    expect(decodeCommand(bytes)).toEqual({
      name: 'connect',
      transactionId: 1,
      object: { app: 'live', tcUrl: 'rtmp://h/live', fpad: false, audioCodecs: 4071 },
      args: [],
    });
  });

  it('round-trips every kind of value it encodes', () => {
    const values = ['_result', 4, null, { level: 'status', nested: { n: -1.5, ok: true } }, [1, 'two', undefined], new Date(86400000)];
    expect(decodeAmf0(encodeAmf0(...values))).toEqual(values);
  });

  it('encodes exactly: a number, a string, an object', () => {
    expect(encodeAmf0(1).toString('hex')).toBe('003ff0000000000000');
    expect(encodeAmf0('ab').toString('hex')).toBe('0200026162');
    expect(encodeAmf0({ a: null }).toString('hex')).toBe('030001610500' + '0009');
  });

  it('reads ECMA arrays, typed objects, long strings and references', () => {
    const ecma = Buffer.concat([Buffer.from([0x08, 0, 0, 0, 1, 0, 1]), Buffer.from('k'), Buffer.from([0x05, 0, 0, 9])]);
    expect(decodeAmf0(ecma)).toEqual([{ k: null }]);
    const typed = Buffer.concat([Buffer.from([0x10, 0, 1]), Buffer.from('C'), Buffer.from([0, 1]), Buffer.from('x'), Buffer.from([0x01, 1, 0, 0, 9])]);
    expect(decodeAmf0(typed)).toEqual([{ x: true }]);
    const long = Buffer.concat([Buffer.from([0x0c, 0, 0, 0, 3]), Buffer.from('abc')]);
    expect(decodeAmf0(long)).toEqual(['abc']);
    const withRef = Buffer.concat([Buffer.from([0x03, 0, 0, 9]), Buffer.from([0x07, 0, 0])]);
    const [first, second] = decodeAmf0(withRef);
    expect(second).toBe(first);
  });

  it('refuses truncated values, unknown markers and AMF3', () => {
    expect(() => decodeAmf0(Buffer.from('003ff000', 'hex'))).toThrow(Amf0Error);
    expect(() => decodeAmf0(Buffer.from('020005616263', 'hex'))).toThrow(Amf0Error);
    expect(() => decodeAmf0(Buffer.from([0x03, 0, 1, 0x61, 0x05]))).toThrow(Amf0Error);
    expect(() => decodeAmf0(Buffer.from([0x0e]))).toThrow(/unknown AMF0 marker/);
    expect(() => decodeAmf0(Buffer.from([0x11, 0x01]))).toThrow(/AMF3/);
    expect(() => decodeAmf0(Buffer.from([0x07, 0, 3]))).toThrow(/reference/);
    expect(() => decodeCommand(encodeAmf0(3))).toThrow(/without a name/);
  });
});
