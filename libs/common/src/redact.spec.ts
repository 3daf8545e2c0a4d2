import { maskSecret, redactText, redactUrl } from './redact';

describe('redaction', () => {
  it('masks stream keys and credentials in URLs', () => {
    expect(redactUrl('rtmp://127.0.0.1:1935/live/ch1?key=SECRETKEY')).toBe('rtmp://127.0.0.1:1935/live/ch1?key=***');
    expect(redactUrl('rtmp://user:pass@host/app/s?sign=abc&x=1')).toBe('rtmp://***:***@host/app/s?sign=***&x=1');
  });

  it('masks secrets inside free text', () => {
    const line = 'Opening rtmp://h/live/c?key=SECRETKEY failed; Authorization: Bearer eyJabc.def.ghi; rtmp://u:pw@h/x';
    const out = redactText(line);
    expect(out).not.toMatch(/SECRETKEY|eyJabc|:pw@/);
    expect(out).toContain('?key=***');
    expect(out).toContain('Bearer ***');
  });

  it('keeps only a short prefix of a secret', () => {
    expect(maskSecret('abcdefghij')).toBe('abcd***');
    expect(maskSecret('abc')).toBe('***');
  });
});
