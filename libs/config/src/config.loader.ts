import { randomBytes } from 'node:crypto';
import { accessSync, chmodSync, constants, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { ConfigError, ConfigProblem, GatewayConfig, parseConfig } from './config.schema';

/** A config whose secrets are all resolved (nothing optional left to fill in). */
export type ResolvedConfig = GatewayConfig & { jwtSecret: string };

/** The TLS files of the embedded TURN server must be readable before it starts. */
function checkReadable(config: GatewayConfig): void {
  if (config.turn.mode !== 'embedded' || !config.turn.tls) return;
  const problems: ConfigProblem[] = [];
  for (const [key, file] of [['TURN_TLS_CERT', config.turn.tls.certFile], ['TURN_TLS_KEY', config.turn.tls.keyFile]] as const) {
    try {
      accessSync(file, constants.R_OK);
    } catch {
      problems.push({ key, message: `cannot read ${file}` });
    }
  }
  if (problems.length) throw new ConfigError(problems);
}

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
    hostname: hostname(),
  });
  config.dataDir = resolve(config.dataDir);
  if (!env.FFMPEG_PATH) config.ffmpegPath = resolveFfmpeg(env.PATH ?? '');
  checkReadable(config);
  mkdirSync(config.dataDir, { recursive: true });
  // The embedded TURN server's static auth secret: TURN_SECRET, else one per data dir.
  if (config.turn.mode === 'embedded') config.turn.secret ??= persistedSecret(config.dataDir, 'turn-secret');
  return { ...config, jwtSecret: config.jwtSecret ?? persistedSecret(config.dataDir, 'jwt-secret') };
}

/** A random secret kept in DATA_DIR/<name> (created once, mode 0600), so it survives restarts. */
function persistedSecret(dataDir: string, name: string): string {
  const file = join(dataDir, name);
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
