import { assertOutputAllowed } from './output-policy';

const allow = ['rtmp://127.0.0.1:1935/live', 'rtmps://cdn.example.com/app/'];

describe('assertOutputAllowed', () => {
  it.each([
    'rtmp://127.0.0.1:1935/live/ch1?key=abc',
    'rtmp://127.0.0.1/live/ch1',
    'rtmps://CDN.example.com:443/app/stream',
  ])('allows %s', (url) => {
    expect(() => assertOutputAllowed(url, allow)).not.toThrow();
  });

  it.each([
    'rtmp://evil.example/live/ch1',
    'rtmp://127.0.0.1:1936/live/ch1',
    'rtmp://127.0.0.1:1935/livex/ch1',
    'rtmp://127.0.0.1:1935/live',
    'rtmp://127.0.0.1:1935/live/../admin/x',
    'rtmp://127.0.0.1:1935/live/%2e%2e/admin',
    'rtmp://127.0.0.1:1935/live/a%2fb',
    'rtmp://127.0.0.1:1935@evil.example/live/ch1',
    'rtmp://user:pw@127.0.0.1:1935/live/ch1',
    'http://127.0.0.1:1935/live/ch1',
    'file:///etc/passwd',
    'rtmp://127.0.0.1:1935/live/ch1\r\nInjected: 1',
    'not a url',
    'rtmps://127.0.0.1:1935/live/ch1',
  ])('refuses %s with OUTPUT_NOT_ALLOWED', (url) => {
    expect(() => assertOutputAllowed(url, allow)).toThrow(expect.objectContaining({ code: 'OUTPUT_NOT_ALLOWED', status: 400 }));
  });
});
