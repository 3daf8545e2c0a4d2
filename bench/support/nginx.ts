import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './processes';

export interface RunningNginx {
  rtmpPort: number;
  /** `rtmp://127.0.0.1:<port>/live`, the value for LIVE_ORIGIN. */
  liveBase: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

export interface NginxRtmpOptions {
  /** Publish and play callbacks pointed at the gateway's hooks; without: a stock config that asks nobody. */
  hooks?: { gatewayPort: number; secret: string };
  /** Applications to configure. Default: `live` and `ingest` with hooks, `live` alone without. */
  apps?: string[];
}

/**
 * nginx-rtmp (Debian's libnginx-mod-rtmp) as an external origin on loopback:
 * `live` and `ingest` apps whose publishes are decided by the gateway's hooks
 * (on_publish / on_publish_done). One foreground process, ended by stop().
 */
export async function startNginx(gatewayPort: number, secret: string): Promise<RunningNginx> {
  return startNginxRtmp({ hooks: { gatewayPort, secret } });
}

/**
 * nginx-rtmp as an operator might run it: by default (no hooks) the stock
 * configuration with one `live` application that lets anyone publish and play.
 */
export async function startNginxRtmp(options: NginxRtmpOptions = {}): Promise<RunningNginx> {
  const dir = mkdtempSync(join(tmpdir(), 'nginx-rtmp-'));
  const rtmpPort = await freePort();
  const { hooks } = options;
  const hook = (event: string) => `http://127.0.0.1:${hooks!.gatewayPort}/api/v1/live/hooks/${event}?secret=${hooks!.secret}`;
  const app = (name: string) =>
    hooks
      ? `    application ${name} { live on; notify_method post; on_publish ${hook('on_publish')}; on_publish_done ${hook('on_publish_done')}; on_play ${hook('on_play')}; on_play_done ${hook('on_play_done')}; }`
      : `    application ${name} { live on; }`;
  const apps = options.apps ?? (hooks ? ['live', 'ingest'] : ['live']);
  writeFileSync(
    join(dir, 'nginx.conf'),
    [
      'load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;',
      'daemon off;',
      'master_process off;',
      `pid ${dir}/nginx.pid;`,
      `error_log ${dir}/error.log warn;`,
      'events { worker_connections 256; }',
      'rtmp {',
      `  server { listen 127.0.0.1:${rtmpPort}; chunk_size 4096;`,
      ...apps.map(app),
      '  }',
      '}',
    ].join('\n'),
  );
  const child = spawn('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 300));
  if (child.exitCode !== null) throw new Error('nginx did not start (is libnginx-mod-rtmp installed?)');
  return {
    rtmpPort,
    liveBase: `rtmp://127.0.0.1:${rtmpPort}/live`,
    child,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
