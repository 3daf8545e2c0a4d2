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
