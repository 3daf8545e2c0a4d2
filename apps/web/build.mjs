// Bundles the browser app (TypeScript, mediasoup-client, socket.io-client) with
// esbuild into dist/web, next to its HTML pages. The gateway serves dist/web.
import { build } from 'esbuild';
import { cpSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, '..', '..', 'dist', 'web');
mkdirSync(out, { recursive: true });
cpSync(join(here, 'public'), out, { recursive: true });
await build({
  entryPoints: { app: join(here, 'src', 'main.ts') },
  bundle: true,
  format: 'esm',
  target: 'es2022',
  sourcemap: true,
  outdir: out,
  logLevel: 'warning',
});
