import fc from 'fast-check';
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
    'rtmp://127.0.0.1:1935/live/ch1?x=../../admin',
    'rtmp://127.0.0.1:1935/live/ch1?%2e%2e/x',
    'rtmp://127.0.0.1:1935/live/a\\b',
    'rtmp://127.0.0.1//live/live',
  ])('refuses %s with OUTPUT_NOT_ALLOWED', (url) => {
    expect(() => assertOutputAllowed(url, allow)).toThrow(expect.objectContaining({ code: 'OUTPUT_NOT_ALLOWED', status: 400 }));
  });

  it('never lets a generated address outside the allow-list through (property-based)', () => {
    const url = fc
      .record({
        scheme: fc.constantFrom('rtmp', 'rtmps', 'RTMP', 'http', 'file', 'rtmpt', 'rtmp:'),
        userinfo: fc.constantFrom('', 'u:p@', '@', '127.0.0.1:1935@', '%40'),
        host: fc.constantFrom('127.0.0.1', 'evil.example', '127.0.0.1.evil', '[::1]', 'CDN.example.com', 'cdn.example.com.', '0x7f000001', ''),
        port: fc.constantFrom('', ':1935', ':443', ':1936', ':', ':01935'),
        path: fc.array(fc.constantFrom('live', 'app', '..', '%2e%2e', '%2f', '%5c', 'ch1', '.', '', '%00', '\\', 'LIVE'), { maxLength: 5 }),
        tail: fc.constantFrom('', '?key=a', '#x', '?a=../b', '\r\nX: 1', ' '),
      })
      .map((p) => `${p.scheme}://${p.userinfo}${p.host}${p.port}/${p.path.join('/')}${p.tail}`);
    // Near misses: allowed prefixes followed by hostile segments and tails.
    const nearMiss = fc
      .tuple(
        fc.constantFrom('rtmp://127.0.0.1:1935/live/', 'rtmps://cdn.example.com/app/', 'rtmp://127.0.0.1/live'),
        fc.array(fc.constantFrom('ch1', '..', '%2e%2e', '%2F', '%5C', '\\', '.', '', 'a b', '%00', 'x?y'), { maxLength: 3 }),
        fc.constantFrom('', '?key=k', '#f'),
      )
      .map(([base, segments, tail]) => `${base}${segments.join('/')}${tail}`);
    let allowed = 0;
    fc.assert(
      fc.property(fc.oneof(url, nearMiss, fc.string()), (candidate) => {
        try {
          assertOutputAllowed(candidate, allow);
        } catch {
          return true;
        }
        allowed += 1;
        const u = new URL(candidate);
        const path = decodeURIComponent(u.pathname);
        const local = u.protocol === 'rtmp:' && u.hostname.toLowerCase() === '127.0.0.1' && (u.port === '' || u.port === '1935') && u.pathname.startsWith('/live/');
        const cdn = u.protocol === 'rtmps:' && u.hostname.toLowerCase() === 'cdn.example.com' && (u.port === '' || u.port === '443') && u.pathname.startsWith('/app/');
        const query = decodeURIComponent(u.search);
        return (local || cdn) && !u.username && !u.password && !path.includes('..') && !/[\\\r\n\0]/.test(candidate) && !/\.\.\//.test(query) && !/\/\.\./.test(query);
      }),
      { numRuns: 20000 },
    );
    // The generator does produce addresses that are allowed, so the property is not vacuous.
    expect(allowed).toBeGreaterThan(0);
  });
});
