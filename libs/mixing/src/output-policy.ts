import { ValidationError } from '@gw/common';

export class OutputNotAllowedError extends ValidationError {
  constructor(reason: string) {
    super(`output not allowed: ${reason}`, 'OUTPUT_NOT_ALLOWED');
  }
}

interface ParsedRtmp {
  protocol: string;
  host: string;
  port: string;
  segments: string[];
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function parse(raw: string): ParsedRtmp | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'rtmp:' && url.protocol !== 'rtmps:') return undefined;
  if (url.username || url.password) return undefined;
  const port = url.port || (url.protocol === 'rtmp:' ? '1935' : '443');
  // Decoded segments: "%2e%2e" and friends compare as what the server will see.
  const segments = url.pathname.split('/').filter(Boolean).map((s) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return '\u0000';
    }
  });
  return { protocol: url.protocol, host: url.hostname.toLowerCase(), port, segments };
}

/**
 * Checks a mix output URL against MIX_OUTPUT_ALLOW: same scheme, host and port
 * as one allowed prefix, and a path that continues it segment by segment (so
 * `/live` allows `/live/ch1` but not `/livex/…` or `/live/../admin`). URLs with
 * credentials, other schemes, or unparseable ones are refused. Pure.
 */
export function assertOutputAllowed(raw: string, allow: string[]): void {
  if (typeof raw !== 'string' || raw.length > 2048) throw new OutputNotAllowedError('not a URL');
  if (/[\s\u0000-\u001f\u007f]/.test(raw)) throw new OutputNotAllowedError('control characters in URL');
  // RTMP sends the query as part of the stream name, so it is confined like the path: no
  // backslashes anywhere, no parent-directory steps (found by the property-based spec).
  if (raw.includes('\\') || /(^|[/?&=])\.\.([/\\?&#]|$)/.test(safeDecode(raw.split('?').slice(1).join('?')))) {
    throw new OutputNotAllowedError('path traversal');
  }
  const target = parse(raw);
  if (!target) throw new OutputNotAllowedError('only rtmp:// and rtmps:// URLs without credentials');
  // An empty segment ("//live/x") shifts what the server takes for the app (found by the property-based spec).
  if (new URL(raw).pathname.includes('//')) throw new OutputNotAllowedError('empty path segment');
  // A backslash is a path separator to some servers and tools: refused like '/' inside a segment
  // (found by the property-based spec).
  if (target.segments.some((s) => s === '..' || s === '.' || s.includes('/') || s.includes('\\') || s.includes('\u0000'))) {
    throw new OutputNotAllowedError('path traversal');
  }
  const ok = allow.some((prefixRaw) => {
    const prefix = parse(prefixRaw);
    return (
      prefix !== undefined &&
      prefix.protocol === target.protocol &&
      prefix.host === target.host &&
      prefix.port === target.port &&
      prefix.segments.every((segment, i) => target.segments[i] === segment) &&
      target.segments.length > prefix.segments.length
    );
  });
  if (!ok) throw new OutputNotAllowedError('not under an allowed prefix (MIX_OUTPUT_ALLOW)');
}
