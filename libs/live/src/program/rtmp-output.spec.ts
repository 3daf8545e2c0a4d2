import { execFileSync } from 'node:child_process';
import { createServer, Server } from 'node:net';
import { FlvTagReader, GopCache } from './flv';
import { OutputState, RtmpOutput } from './rtmp-output';

const logger = { log: jest.fn(), warn: jest.fn(), error: jest.fn(), debug: jest.fn() };

/** A short real H.264 + AAC FLV, as the mixer's encoder would produce. */
function snapshot(): () => Buffer {
  const flv = execFileSync('ffmpeg', [
    '-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=s=320x180:r=15', '-f', 'lavfi', '-i', 'sine', '-t', '1',
    '-c:v', 'libx264', '-g', '15', '-c:a', 'aac', '-f', 'flv', '-',
  ]);
  const reader = new FlvTagReader();
  const cache = new GopCache();
  const tags = reader.push(flv);
  cache.setHeader(reader.header!);
  for (const tag of tags) cache.add(tag);
  return () => cache.snapshot();
}

// Real ffmpeg relays against addresses that refuse or stall; no origin needed.
describe('RtmpOutput', () => {
  it('fails fast when the URL never connects, counting its retries', async () => {
    const output = new RtmpOutput({ taskId: 't', url: 'rtmp://127.0.0.1:9/live/x', ffmpegPath: 'ffmpeg', logger, snapshot: snapshot() });
    const states: OutputState[] = [];
    const failed = new Promise<void>((resolve) =>
      output.on('state', ({ state }) => {
        states.push(state);
        if (state === 'failed') resolve();
      }),
    );
    const started = Date.now();
    output.start();
    await failed;
    expect(Date.now() - started).toBeLessThan(8000);
    expect(output.retries).toBe(2);
    expect(states[states.length - 1]).toBe('failed');
    await output.stop();
    expect(output.pid).toBeUndefined();
  });

  it('stop() ends a relay that is still trying to connect, and is idempotent', async () => {
    // A TCP server that accepts and never answers the RTMP handshake.
    const sockets: import('node:net').Socket[] = [];
    const server: Server = createServer((s) => sockets.push(s));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const output = new RtmpOutput({ taskId: 't', url: `rtmp://127.0.0.1:${port}/live/x`, ffmpegPath: 'ffmpeg', logger, snapshot: snapshot() });
    output.start();
    await new Promise((r) => setTimeout(r, 500));
    await Promise.all([output.stop(), output.stop()]);
    expect(output.state).toBe('stopped');
    expect(output.pid).toBeUndefined();
    for (const s of sockets) s.destroy();
    server.close();
  });
});
