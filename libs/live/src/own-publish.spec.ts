import { hookStreamRef, ownPublishKey, signOwnPublish } from './own-publish';

const BASE = 'rtmp://origin.example:1935/live';
const SECRET = 'gateway-secret';

describe('signOwnPublish', () => {
  it('adds the gateway key for the stream to a URL on the origin', () => {
    const signed = new URL(signOwnPublish('rtmp://origin.example:1935/live/mixout', BASE, SECRET));
    expect(signed.pathname).toBe('/live/mixout');
    expect(signed.searchParams.get('key')).toBe(ownPublishKey(SECRET, { app: 'live', stream: 'mixout' }));
  });

  it('keeps other query fields and treats the default port as the same origin', () => {
    const signed = new URL(signOwnPublish('rtmp://ORIGIN.example/live/x?vhost=a', BASE, SECRET));
    expect(signed.searchParams.get('vhost')).toBe('a');
    expect(signed.searchParams.get('key')).toBe(ownPublishKey(SECRET, { app: 'live', stream: 'x' }));
  });

  it('names the stream the way the origin callback will (last segment; ingest app or live)', () => {
    const other = new URL(signOwnPublish('rtmp://origin.example:1935/other/x', BASE, SECRET));
    expect(other.searchParams.get('key')).toBe(ownPublishKey(SECRET, hookStreamRef('other', 'x')));
    expect(hookStreamRef('other', 'x')).toEqual({ app: 'live', stream: 'x' });
    const ingest = new URL(signOwnPublish('rtmp://origin.example:1935/ingest/x', BASE, SECRET));
    expect(ingest.searchParams.get('key')).toBe(ownPublishKey(SECRET, { app: 'ingest', stream: 'x' }));
  });

  it('leaves a URL with its own key, another server, or no stream name alone', () => {
    for (const url of [
      'rtmp://origin.example:1935/live/ch__host?key=hostkey',
      'rtmp://other.example:1935/live/x',
      'rtmp://origin.example:1936/live/x',
      'rtmps://origin.example:1935/live/x',
      'rtmp://origin.example:1935/live',
      'not a url',
    ]) {
      expect(signOwnPublish(url, BASE, SECRET)).toBe(url);
    }
  });

  it('derives a different key per stream and per secret', () => {
    const a = ownPublishKey(SECRET, { app: 'live', stream: 'a' });
    expect(ownPublishKey(SECRET, { app: 'live', stream: 'b' })).not.toBe(a);
    expect(ownPublishKey('another-secret', { app: 'live', stream: 'a' })).not.toBe(a);
    expect(ownPublishKey(SECRET, { app: 'ingest', stream: 'a' })).not.toBe(a);
  });
});
