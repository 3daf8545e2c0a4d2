import { randomBytes } from 'node:crypto';
import { accessSync, chmodSync, constants, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { GatewayConfig, parseConfig } from './config.schema';

/** A config whose secrets are all resolved (nothing optional left to fill in). */
export type ResolvedConfig = GatewayConfig & { jwtSecret: string };

/**
 * The only reader of process.env. Validates it, makes DATA_DIR absolute, and
 * fills JWT_SECRET from DATA_DIR/jwt-secret (created once, mode 0600), so tokens
 * stay valid across restarts of the same deployment.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): ResolvedConfig {
  const config = parseConfig({
    env,
    cpuCount: availableParallelism(),
    randomKey: () => randomBytes(18).toString('base64url'),
  });
  config.dataDir = resolve(config.dataDir);
  if (!env.FFMPEG_PATH) config.ffmpegPath = resolveFfmpeg(env.PATH ?? '');
  mkdirSync(config.dataDir, { recursive: true });
  return { ...config, jwtSecret: config.jwtSecret ?? persistedJwtSecret(config.dataDir) };
}

function persistedJwtSecret(dataDir: string): string {
  const file = join(dataDir, 'jwt-secret');
  if (existsSync(file)) {
    const secret = readFileSync(file, 'utf8').trim();
    if (secret.length >= 32) return secret;
  }
  const secret = randomBytes(32).toString('base64url');
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return secret;
}

/**
 * The mixer decodes media from untrusted participants, so a maintained,
 * security-patched ffmpeg comes first: FFMPEG_PATH (handled by the schema), then
 * Debian's ffmpeg on PATH (installed by setup), then the portable
 * @ffmpeg-installer build (2018, older filters) as the last resort.
 */
export function resolveFfmpeg(pathEnv: string): string {
  for (const dir of pathEnv.split(':').filter(Boolean)) {
    const candidate = join(dir, 'ffmpeg');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require('@ffmpeg-installer/ffmpeg') as { path: string }).path;
  } catch {
    return 'ffmpeg';
  }
}
