import 'reflect-metadata';
import { LogLevel, RequestMethod } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CLUSTER_REDIS, ClusterModule, ClusterRedis, NodeRegistry } from '@gw/cluster';
import { HttpErrorFilter, redactUrl, SupervisedProcess } from '@gw/common';
import { ConfigError, loadConfig, ResolvedConfig } from '@gw/config';
import { ImIoAdapter, NodeRpc } from '@gw/im';
import { ChannelService } from '@gw/live';
import { AppModule } from './app.module';

const LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];

function readConfig(): ResolvedConfig {
  try {
    return loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`configuration error:\n${error.problems.map((p) => `  ${p.key}: ${p.message}`).join('\n')}\n`);
      process.exit(2);
    }
    throw error;
  }
}

async function bootstrap(): Promise<void> {
  const config = readConfig();
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), {
    logger: LEVELS.slice(0, LEVELS.indexOf(config.logLevel) + 1),
  });
  // socket.io as Nest's adapter does it, with plain listeners instead of an rxjs pipeline per event per socket.
  // In cluster mode (REDIS_URL) its rooms and broadcasts span every node (socket.io's Redis streams adapter).
  app.useWebSocketAdapter(new ImIoAdapter(app, ClusterModule.socketAdapter(app.get<ClusterRedis | null>(CLUSTER_REDIS))));
  // Requests about an invitation or a hosted channel on another node run there (NodeRpc).
  if (config.cluster) app.get(NodeRpc).enable();
  // Shutdown: the modules' hooks end what they own (app.close()), then any child still on its way
  // out is waited for (SIGKILL after its stop timeout), so no process outlives the gateway.
  let closing = false;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (closing) return;
      closing = true;
      void app
        .close()
        .then(() => SupervisedProcess.stopAll())
        .catch((error: Error) => process.stderr.write(`shutdown: ${error.message}\n`))
        .finally(() => process.exit(0));
    });
  }
  app.setGlobalPrefix('api/v1', {
    // HLS plays are public media URLs beside the origin's FLV ones, not API calls.
    exclude: ['healthz', 'metrics', 'hls/{*path}'].map((path) => ({ path, method: RequestMethod.GET })),
  });
  app.useGlobalFilters(new HttpErrorFilter());

  const webRoot = join(__dirname, '..', '..', '..', 'web');
  if (existsSync(webRoot)) app.useStaticAssets(webRoot, { index: 'index.html' });

  const openApi = new DocumentBuilder()
    .setTitle('Co-hosting live gateway')
    .setDescription('Conferences on mediasoup, server-side mixing, RTMP live channels. See docs/ for socket events.')
    .setVersion('1')
    .addApiKey({ type: 'apiKey', name: 'x-api-key', in: 'header' }, 'admin')
    .addBearerAuth()
    .build();
  SwaggerModule.setup('api/docs', app, () => SwaggerModule.createDocument(app, openApi));

  try {
    await app.listen(config.port, config.host);
  } catch (error) {
    // Whatever did start (workers, origin) is ended before we exit.
    await app.close();
    throw error;
  }
  const base = `http://${config.publicHost}:${config.port}`;
  const live = config.live;
  const origin =
    live.origin.kind === 'embedded'
      ? `embedded (rtmp :${live.embeddedRtmpPort}, http-flv :${live.embeddedHttpPort})`
      : `${live.origin.rtmpBase} (RTMP ingest: ${live.ingest === 'gateway' ? `the gateway's own, rtmp :${live.embeddedRtmpPort}` : 'the origin'})`;
  const turn = config.turn;
  const ice =
    turn.mode === 'embedded'
      ? `embedded coturn (udp+tcp :${turn.port}${turn.tls ? `, tls :${turn.tls.port}` : ''})`
      : turn.mode === 'external'
        ? `external (${turn.urls.join(', ')})`
        : 'off (no STUN/TURN servers handed out)';
  const lines = [
    `gateway ready on ${base}`,
    `  web app     ${base}/`,
    `  REST API    ${base}/api/v1   (OpenAPI: ${base}/api/docs)`,
    `  live origin ${origin}`,
    `  turn        ${ice}`,
    config.cluster ? `  cluster     node ${app.get(NodeRegistry).nodeId} on ${redactUrl(config.cluster.redisUrl)}` : '  cluster     off (one node; set REDIS_URL to join a cluster)',
    `  channels    ${app.get(ChannelService).list().length} stored in ${config.dataDir}`,
    config.adminApiKeyGenerated ? `  admin key   ${config.adminApiKey}   (random for this run; set ADMIN_API_KEY to fix it)` : '  admin key   from ADMIN_API_KEY',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

void bootstrap().catch((error: Error) => {
  process.stderr.write(`gateway failed to start: ${error.stack ?? error.message}\n`);
  process.exit(1);
});
