import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, resolveFfmpeg } from './config.loader';

describe('loadConfig', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'gw-cfg-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('persists a random JWT secret per data dir', () => {
    const a = loadConfig({ DATA_DIR: dir });
    const b = loadConfig({ DATA_DIR: dir });
    expect(a.jwtSecret).toHaveLength(43);
    expect(b.jwtSecret).toBe(a.jwtSecret);
    expect(loadConfig({ DATA_DIR: dir, JWT_SECRET: 'z'.repeat(40) }).jwtSecret).toBe('z'.repeat(40));
  });

  it('prefers FFMPEG_PATH, then ffmpeg on PATH, then the portable build', () => {
    expect(loadConfig({ DATA_DIR: dir, FFMPEG_PATH: '/opt/ff/ffmpeg' }).ffmpegPath).toBe('/opt/ff/ffmpeg');
    const bin = join(dir, 'bin');
    require('node:fs').mkdirSync(bin);
    writeFileSync(join(bin, 'ffmpeg'), '#!/bin/sh\n');
    chmodSync(join(bin, 'ffmpeg'), 0o755);
    expect(resolveFfmpeg(`/nonexistent:${bin}`)).toBe(join(bin, 'ffmpeg'));
    expect(resolveFfmpeg('/nonexistent')).toMatch(/@ffmpeg-installer\/linux-x64\/ffmpeg$/);
  });
});

describe('loadConfig: TURN secret', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'gw-cfg-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('persists a random TURN secret per data dir; TURN_SECRET overrides it', () => {
    const a = loadConfig({ DATA_DIR: dir });
    const b = loadConfig({ DATA_DIR: dir });
    if (a.turn.mode !== 'embedded' || b.turn.mode !== 'embedded') throw new Error('expected the embedded TURN server');
    expect(a.turn.secret).toHaveLength(43);
    expect(b.turn.secret).toBe(a.turn.secret);
    expect(a.turn.secret).not.toBe(a.jwtSecret);
    expect(require('node:fs').statSync(join(dir, 'turn-secret')).mode & 0o777).toBe(0o600);
    const c = loadConfig({ DATA_DIR: dir, TURN_SECRET: 'q'.repeat(24) });
    expect(c.turn.mode === 'embedded' && c.turn.secret).toBe('q'.repeat(24));
  });

  it('refuses TLS files it cannot read', () => {
    expect(() => loadConfig({ DATA_DIR: dir, TURN_TLS_CERT: join(dir, 'none.pem'), TURN_TLS_KEY: join(dir, 'none.key') })).toThrow(/TURN_TLS_CERT: cannot read.*TURN_TLS_KEY: cannot read/);
  });
});
