import { ExternalOrigin } from './external-origin';

describe('ExternalOrigin publish decisions (its on_publish hook)', () => {
  const origin = new ExternalOrigin({
    rtmpBase: 'rtmp://origin.example:1935/live',
    rtmpPlayBase: 'rtmp://origin.example:1935/live',
    playUrlBase: 'http://origin.example/live',
    ownKeySecret: 'own-secret',
  });
  origin.setPublishKeys('channels', { 'live/ch': { programkey: 'program' }, 'live/ch__host': { hostkey: 'host' } });
  const keyOf = (url: string) => new URL(origin.ownPublishUrl(url)).searchParams.get('key')!;

  it("lets the gateway's own mix output through with the key it signed the URL with", () => {
    expect(origin.roleOf('live', 'mixout', keyOf('rtmp://origin.example:1935/live/mixout'))).toBe('output');
    // The key is bound to the stream: another stream's does not open it.
    expect(origin.roleOf('live', 'other', keyOf('rtmp://origin.example:1935/live/mixout'))).toBeUndefined();
    expect(origin.roleOf('live', 'mixout', 'guess')).toBeUndefined();
  });

  it("opens a channel's streams only with their own keys", () => {
    expect(origin.roleOf('live', 'ch', 'programkey')).toBe('program');
    expect(origin.roleOf('live', 'ch__host', 'hostkey')).toBe('host');
    expect(origin.roleOf('live', 'ch', 'hostkey')).toBeUndefined();
    expect(origin.roleOf('live', 'ch', keyOf('rtmp://origin.example:1935/live/ch'))).toBeUndefined();
  });

  it('sends outputs as given when the origin has no hooks (no secret)', () => {
    const plain = new ExternalOrigin({ rtmpBase: 'rtmp://origin.example:1935/live', rtmpPlayBase: 'rtmp://origin.example:1935/live', playUrlBase: 'http://origin.example/live' });
    expect(plain.ownPublishUrl('rtmp://origin.example:1935/live/mixout')).toBe('rtmp://origin.example:1935/live/mixout');
    expect(plain.roleOf('live', 'mixout', 'anything')).toBeUndefined();
  });

  it('keeps a key the output URL already carries', () => {
    expect(origin.ownPublishUrl('rtmp://origin.example:1935/live/ch__host?key=hostkey')).toBe('rtmp://origin.example:1935/live/ch__host?key=hostkey');
  });
});
