import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
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
