import { freeLoopbackUdpPort } from '@gw/common';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { SrtlaSender, UplinkHelper } from '@gw/uplink';
import { REORDER_TOLERANCE_PACKETS, SrtIngest } from './srt-ingest';
import { formatStreamId } from './srt-packet';
import { SrtlaReceiver } from './srtla-receiver';

const run = promisify(execFile);
const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


/**
 * SRTLA end to end with real parts, on loopback: our bonding sender with three
 * paths (three source addresses of 127/8), the SRTLA receiver, the SRT ingest
 * (srt-live-transmit) and ffmpeg as the encoder and as the remuxer, routed to
 * an FLV file. The stream arrives whole, and all three links carried it.
 */
describe('SRTLA: our sender → the receiver → the SRT ingest', () => {
  let dir: string;
  let ingest: SrtIngest;
  let receiver: SrtlaReceiver;
  let sender: SrtlaSender;
  let localPort: number;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'srtla-'));
    const [srtPort, srtlaPort] = [await freeLoopbackUdpPort(), await freeLoopbackUdpPort()];
    localPort = await freeLoopbackUdpPort();
    ingest = new SrtIngest({
      port: srtPort,
      bind: '127.0.0.1',
      srtLiveTransmitPath: 'srt-live-transmit',
      ffmpegPath: 'ffmpeg',
      latencyMs: 200,
      // Every caller here is the SRTLA receiver's (bonded).
      reorderTolerance: () => REORDER_TOLERANCE_PACKETS,
      logger: quiet,
      route: (r) => (r.resource === 'live/bond__host' && r.key === 'k' ? { rtmpUrl: join(dir, 'bond.flv'), label: r.resource } : { reject: 1403, reason: 'no' }),
    });
    await ingest.start();
    receiver = new SrtlaReceiver({ port: srtlaPort, bind: '127.0.0.1', srt: { host: '127.0.0.1', port: srtPort }, logger: quiet });
    await receiver.start();
    sender = new SrtlaSender({
      listen: { host: '127.0.0.1', port: localPort },
      receiver: { host: '127.0.0.1', port: srtlaPort },
      paths: [
        { name: 'one', bind: '127.0.0.1' },
        { name: 'two', bind: '127.0.0.2' },
        { name: 'three', bind: '127.0.0.3' },
      ],
      logger: quiet,
    });
    await sender.start();
  });

  afterAll(async () => {
    await sender?.stop();
    await receiver?.stop();
    await ingest?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('registers every path, carries the stream over all of them, and it arrives whole', async () => {
    for (let i = 0; i < 50 && sender.registered.length < 3; i++) await sleep(100);
    expect(sender.registered.sort()).toEqual(['one', 'three', 'two']);
    const url = `srt://127.0.0.1:${localPort}?streamid=${formatStreamId('live', 'bond__host', 'k')}&latency=200000`;
    const encoder = spawn('ffmpeg', [
      '-hide_banner', '-loglevel', 'error', '-re',
      '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25,drawbox=c=red:t=fill', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
      '-t', '6', '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-b:v', '1500k', '-c:a', 'aac', '-f', 'mpegts', url,
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    encoder.stderr.on('data', (d) => (stderr += d));
    // While it streams: three links in one group, each with a share.
    await sleep(3500);
    const groups = receiver.groups();
    expect(groups).toHaveLength(1);
    const shares = groups[0].links.map((l) => l.sharePct);
    expect(shares).toHaveLength(3);
    for (const share of shares) expect(share).toBeGreaterThan(15);
    expect(groups[0].links.every((l) => l.reported.rttMs !== undefined)).toBe(true);
    const figures = sender.figures;
    expect(figures.map((f) => f.score).every((s) => s >= 90)).toBe(true);
    const code = await new Promise((resolve) => encoder.once('close', resolve));
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    for (let i = 0; i < 60 && ingest.sessions.length; i++) await sleep(100);
    const { stdout } = await run('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'frame=pts_time', '-of', 'csv=p=0', join(dir, 'bond.flv')]);
    const times = stdout.split('\n').map((l) => parseFloat(l)).filter(Number.isFinite);
    // 6 s at 25 fps, from the first picture on and with no hole (SRT repaired what the links reordered or lost);
    // only the end of a push that stops may lose what was still in SRT's latency window (about 0.3 s here).
    expect(times[0]).toBeLessThan(0.2);
    expect(times.length).toBeGreaterThanOrEqual(135);
    const steps = times.slice(1).map((t, i) => t - times[i]);
    expect(Math.max(...steps)).toBeLessThan(0.1);
  }, 40000);
});

/**
 * Helper devices (seed 000), with real parts on loopback: our sender with one
 * path of its own and two helpers (UplinkHelper on 127.0.0.4 and 127.0.0.5):
 * one refuses, one accepts and relays from its own address until its data
 * allowance runs out mid-stream. The stream arrives whole all the same.
 */
describe('SRTLA with helper devices', () => {
  let dir: string;
  let ingest: SrtIngest;
  let receiver: SrtlaReceiver;
  let sender: SrtlaSender;
  let tablet: UplinkHelper;
  let busy: UplinkHelper;
  let localPort: number;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'srtla-helpers-'));
    const [srtPort, srtlaPort, tabletPort, busyPort] = [await freeLoopbackUdpPort(), await freeLoopbackUdpPort(), await freeLoopbackUdpPort(), await freeLoopbackUdpPort()];
    localPort = await freeLoopbackUdpPort();
    ingest = new SrtIngest({
      port: srtPort,
      bind: '127.0.0.1',
      srtLiveTransmitPath: 'srt-live-transmit',
      ffmpegPath: 'ffmpeg',
      latencyMs: 300,
      reorderTolerance: () => REORDER_TOLERANCE_PACKETS,
      logger: quiet,
      route: (r) => (r.resource === 'live/help__host' && r.key === 'k' ? { rtmpUrl: join(dir, 'help.flv'), label: r.resource } : { reject: 1403, reason: 'no' }),
    });
    await ingest.start();
    receiver = new SrtlaReceiver({ port: srtlaPort, bind: '127.0.0.1', srt: { host: '127.0.0.1', port: srtPort }, logger: quiet });
    await receiver.start();
    tablet = new UplinkHelper({ listen: { host: '127.0.0.4', port: tabletPort }, bind: '127.0.0.4', allowanceBytes: 300_000, logger: quiet });
    busy = new UplinkHelper({ listen: { host: '127.0.0.5', port: busyPort }, bind: '127.0.0.5', allowanceBytes: 1e9, refuse: true, logger: quiet });
    await tablet.start();
    await busy.start();
    sender = new SrtlaSender({
      listen: { host: '127.0.0.1', port: localPort },
      receiver: { host: '127.0.0.1', port: srtlaPort },
      paths: [
        { name: 'own', bind: '127.0.0.1' },
        { name: 'tablet', bind: '127.0.0.1', helper: { host: '127.0.0.4', port: tabletPort } },
        { name: 'busy', bind: '127.0.0.1', helper: { host: '127.0.0.5', port: busyPort } },
      ],
      // 300 kB lasts 2 s at the 500 kbit/s a first request expects: a full share, spent within the test.
      helperHorizonSeconds: 2,
      logger: quiet,
    });
    await sender.start();
  });

  afterAll(async () => {
    await sender?.stop();
    await tablet?.stop();
    await busy?.stop();
    await receiver?.stop();
    await ingest?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('asks each helper, uses the one that accepts until its allowance is spent, and the stream arrives whole', async () => {
    for (let i = 0; i < 50 && sender.registered.length < 2; i++) await sleep(100);
    expect(sender.registered.sort()).toEqual(['own', 'tablet']);
    expect(sender.helpers).toEqual([
      { name: 'tablet', state: 'accepted', allowanceBytes: 300_000, reason: undefined },
      { name: 'busy', state: 'refused', allowanceBytes: 1e9, reason: 'not helping now' },
    ]);
    const url = `srt://127.0.0.1:${localPort}?streamid=${formatStreamId('live', 'help__host', 'k')}&latency=300000`;
    const encoder = spawn('ffmpeg', [
      '-hide_banner', '-loglevel', 'error', '-re',
      '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
      '-t', '8', '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-b:v', '1500k', '-c:a', 'aac', '-f', 'mpegts', url,
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    encoder.stderr.on('data', (d) => (stderr += d));
    // Early on, the receiver sees the helper's own address as a second link.
    await sleep(1500);
    const links = receiver.groups()[0]?.links.map((l) => l.address).sort();
    expect(links).toEqual(['127.0.0.1', '127.0.0.4']);
    const code = await new Promise((resolve) => encoder.once('close', resolve));
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    // 300 kB at about half of 1.5 Mbit/s lasts some 3 s: spent before the end, and the helper said so.
    expect(tablet.remainingBytes).toBeLessThan(2000);
    expect(sender.helpers[0]).toMatchObject({ name: 'tablet', state: 'exhausted' });
    expect(sender.registered).toEqual(['own']);
    for (let i = 0; i < 60 && ingest.sessions.length; i++) await sleep(100);
    const { stdout } = await run('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'frame=pts_time', '-of', 'csv=p=0', join(dir, 'help.flv')]);
    const times = stdout.split('\n').map((l) => parseFloat(l)).filter(Number.isFinite);
    expect(times[0]).toBeLessThan(0.2);
    expect(times.length).toBeGreaterThanOrEqual(185);
    const steps = times.slice(1).map((t, i) => t - times[i]);
    expect(Math.max(...steps)).toBeLessThan(0.1);
  }, 40000);
});
