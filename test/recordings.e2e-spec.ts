import { execFile, execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Socket } from 'socket.io-client';
import { ask, connectAs, removeDir, RunningGateway, startGateway } from '../bench/support/gateway';
import { descendantPids, freePort, isRunning, waitFor } from '../bench/support/processes';
import { publishTestStream, Publisher } from './support/media';
import { colorNear, meanColor, pcmToFloat, Rgb, tonePower } from './support/media-analysis';
import { BLUE, floatRegions, RED, waitForColors } from './support/mix-checks';

const run = promisify(execFile);
const W = 640;
const H = 360;
const { main: MAIN, guestWindow: GUEST_WINDOW } = floatRegions(W, H, 'anchor', 'guest1');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Downloads a recording file with the admin key. */
async function download(gw: RunningGateway, url: string, file: string): Promise<string> {
  const res = await fetch(url, { headers: { 'x-api-key': gw.adminKey } });
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status} ${await res.text()}`);
  writeFileSync(file, Buffer.from(await res.arrayBuffer()));
  return file;
}

async function durationOf(file: string): Promise<number> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', file], { timeout: 30000 });
  return Number(stdout.trim());
}

/** Seconds of media ffmpeg actually decodes from the file (the last video frame's time), for files without a duration in their header. */
async function decodedSeconds(file: string): Promise<number> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'frame=pts_time', '-of', 'csv=p=0', file], { timeout: 60000, maxBuffer: 16 * 1024 * 1024 });
  const times = stdout.split('\n').filter((l) => l.trim() !== '').map(Number).filter(Number.isFinite);
  return times.length ? Math.max(...times) - Math.min(...times) : 0;
}

/** Mean colours of `regions` in the picture at `seconds`. */
async function colorsAtTime(file: string, seconds: number, regions: { x: number; y: number; w: number; h: number }[]): Promise<Rgb[]> {
  const { stdout } = await run('ffmpeg', ['-v', 'error', '-ss', String(seconds), '-i', file, '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], {
    encoding: 'buffer',
    maxBuffer: 16 * 1024 * 1024,
    timeout: 30000,
  });
  return regions.map((r) => meanColor(stdout, W, r));
}

/** Power of each tone in `seconds` of audio from `from`. */
async function tonesAt(file: string, from: number, seconds: number, tones: number[]): Promise<number[]> {
  const { stdout } = await run('ffmpeg', ['-v', 'error', '-ss', String(from), '-i', file, '-t', String(seconds), '-vn', '-ac', '1', '-ar', '48000', '-f', 's16le', '-'], {
    encoding: 'buffer',
    maxBuffer: 16 * 1024 * 1024,
    timeout: 30000,
  });
  const samples = pcmToFloat(stdout);
  return tones.map((f) => tonePower(samples, 48000, f));
}

const rgb = (c: Rgb) => c.map(Math.round);

/**
 * Recordings of a channel's program, with everything real: the built gateway,
 * its embedded origin, mediasoup, the mixer's ffmpeg, SQLite, the files on
 * disk read back by ffmpeg.
 */
describe('recordings', () => {
  let work: string;
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'gw-rec-e2e-'));
  });
  afterAll(() => removeDir(work));

  describe('across a co-hosting switch', () => {
    let gw: RunningGateway;
    const pushes: Publisher[] = [];
    const sockets: Socket[] = [];
    beforeAll(async () => {
      gw = await startGateway({ env: { MIX_RTP_MIN_PORT: String(51000 + Math.floor(Math.random() * 40) * 100), MIX_RTP_MAX_PORT: '59999' } });
    }, 60000);
    afterAll(async () => {
      for (const s of sockets) s.close();
      for (const p of pushes) await p.stop();
      await gw?.stop();
      if (gw) removeDir(gw.dataDir);
    });

    it('records the host, then the mix, as one MP4 as long as the time recorded, and lists it', async () => {
      const channel = (await gw.admin('POST', '/api/v1/channels', { id: 'show' })).body;
      expect((await gw.admin('POST', '/api/v1/channels/nope/recordings')).body).toMatchObject({ error: { code: 'CHANNEL_NOT_FOUND' } });
      pushes.push(publishTestStream(channel.publishUrl, { color: '0xff0000', toneHz: 440, seconds: 120 }));
      await waitFor('host on air', async () => ((await gw.admin('GET', '/api/v1/channels/show')).body.source === 'host' ? true : undefined), 20000);

      // The channel's host starts it; someone else's host token may not.
      const hostToken = (await gw.admin('POST', '/api/v1/tokens', { userId: 'anchor', role: 'host', channelId: 'show' })).body.token;
      const otherToken = (await gw.admin('POST', '/api/v1/tokens', { userId: 'other', role: 'host', channelId: 'elsewhere' })).body.token;
      const asHost = (method: string, path: string, token = hostToken) => gw.request(method, path, { headers: { authorization: `Bearer ${token}` } });
      expect(await asHost('POST', '/api/v1/channels/show/recordings', otherToken)).toMatchObject({ status: 403, body: { error: { code: 'NOT_CHANNEL_HOST' } } });
      const started = await asHost('POST', '/api/v1/channels/show/recordings');
      const startedAt = Date.now();
      expect(started).toMatchObject({ status: 201, body: { id: expect.stringMatching(/^rec_/), channelId: 'show', state: 'recording' } });
      const id: string = started.body.id;
      expect((await gw.admin('POST', '/api/v1/channels/show/recordings')).body).toMatchObject({ error: { code: 'RECORDING_IN_PROGRESS' } });
      expect((await gw.admin('POST', '/api/v1/channels/show/recordings')).status).toBe(409);
      expect((await asHost('GET', `/api/v1/recordings/${id}`, otherToken)).status).toBe(403);

      // Four seconds of the host alone, then a guest by RTMP ingest: the channel switches to the mix.
      await sleep(4000);
      const host = await connectAs(gw, 'anchor', 'host', 'show');
      const guest = await connectAs(gw, 'guest1', 'viewer', 'show');
      sockets.push(host, guest);
      const { invitationId } = await ask(host, 'cohost:invite', { channelId: 'show', userId: 'guest1' });
      const accepted = await ask(guest, 'cohost:accept', { invitationId });
      expect(accepted).toMatchObject({ ok: true });
      const ingest = (await gw.admin('POST', `/api/v1/conferences/${accepted.conferenceId}/ingest`, { userId: 'guest1' })).body.url;
      pushes.push(publishTestStream(ingest, { color: '0x0000ff', toneHz: 1000, seconds: 120 }));
      await waitForColors(channel.playUrls.flv, W, H, [
        { region: MAIN, color: RED },
        { region: GUEST_WINDOW, color: BLUE },
      ], 40000);
      await sleep(4000);

      const stoppedAt = Date.now();
      const stopped = await gw.admin('DELETE', `/api/v1/recordings/${id}`);
      expect(stopped).toMatchObject({ status: 200, body: { id, channelId: 'show', state: 'done', files: { hls: expect.any(String), mp4: expect.stringMatching(/recording\.mp4$/) } } });
      const view = (await gw.admin('GET', `/api/v1/recordings/${id}`)).body;
      expect(view).toEqual(stopped.body);
      expect(Date.parse(view.endedAt)).toBeGreaterThanOrEqual(Date.parse(view.startedAt));
      // The channel is still co-hosting; the recording did not touch it.
      expect((await gw.admin('GET', '/api/v1/channels/show')).body).toMatchObject({ state: 'cohosting', source: 'mix' });

      const wall = (stoppedAt - startedAt) / 1000;
      const mp4 = await download(gw, view.files.mp4, join(work, 'switch.mp4'));
      const duration = await durationOf(mp4);
      // The recording starts at the program's next keyframe (a 1 s GOP here) and ends with the last
      // whole picture before the stop; the wall clock also holds the REST calls' own time.
      expect(Math.abs(duration - wall)).toBeLessThanOrEqual(1.5);
      expect(Math.abs(view.durationSeconds - duration)).toBeLessThanOrEqual(0.3);

      // The host alone at the start (red where the guest window will be), the mix at the end; the host's tone all along, the guest's later.
      const [startMain, startWindow] = await colorsAtTime(mp4, 1, [MAIN, GUEST_WINDOW]);
      if (!colorNear(startMain, RED, 50) || !colorNear(startWindow, RED, 50)) throw new Error(`start of the recording: main ${rgb(startMain)}, guest window ${rgb(startWindow)}`);
      const [endMain, endWindow] = await colorsAtTime(mp4, duration - 1.5, [MAIN, GUEST_WINDOW]);
      if (!colorNear(endMain, RED, 50) || !colorNear(endWindow, BLUE, 50)) throw new Error(`end of the recording: main ${rgb(endMain)}, guest window ${rgb(endWindow)}`);
      const [p440start, p1000start, p700start] = await tonesAt(mp4, 1, 1.5, [440, 1000, 700]);
      expect(p440start).toBeGreaterThan(20 * p700start);
      expect(p1000start).toBeLessThan(p440start / 20);
      const [p440end, p1000end, p700end] = await tonesAt(mp4, duration - 2.5, 1.5, [440, 1000, 700]);
      expect(p440end).toBeGreaterThan(20 * p700end);
      expect(p1000end).toBeGreaterThan(20 * p700end);

      // The same recording as HLS VOD (byte ranges of the fragmented file), read by ffmpeg with the admin key.
      const playlist = await gw.request('GET', `/api/v1/recordings/${id}/index.m3u8`, { headers: { 'x-api-key': gw.adminKey } });
      expect(playlist.status).toBe(200);
      expect(playlist.body).toContain('#EXT-X-PLAYLIST-TYPE:VOD');
      expect(playlist.body.trim().endsWith('#EXT-X-ENDLIST')).toBe(true);
      const { stdout } = await run(
        'ffprobe',
        ['-v', 'error', '-headers', `x-api-key: ${gw.adminKey}\r\n`, '-show_entries', 'format=duration', '-of', 'csv=p=0', view.files.hls],
        { timeout: 60000 },
      );
      expect(Math.abs(Number(stdout.trim()) - duration)).toBeLessThanOrEqual(0.5);

      // Listed under its channel; the file downloads with the host's token, not without one.
      expect((await asHost('GET', '/api/v1/channels/show/recordings')).body).toEqual([view]);
      expect((await fetch(view.files.mp4, { headers: { authorization: `Bearer ${hostToken}` } })).status).toBe(200);
      expect((await fetch(view.files.mp4)).status).toBe(401);
      expect((await gw.admin('GET', '/api/v1/recordings/rec_nothere')).body).toMatchObject({ error: { code: 'RECORDING_NOT_FOUND' } });
    }, 150000);
  });

  describe('through an encoder restart and an origin restart', () => {
    let gw: RunningGateway;
    const pushes: Publisher[] = [];
    const sockets: Socket[] = [];
    beforeAll(async () => {
      gw = await startGateway({ env: { MIX_RTP_MIN_PORT: String(51000 + Math.floor(Math.random() * 40) * 100), MIX_RTP_MAX_PORT: '59999' } });
    }, 60000);
    afterAll(async () => {
      for (const s of sockets) s.close();
      for (const p of pushes) await p.stop();
      await gw?.stop();
      if (gw) removeDir(gw.dataDir);
    });

    let attempt = 0;
    it('goes on as one recording, its timeline without a break', async () => {
      // Jest retries a failed E2E once: a retry starts from its own channel, without the last try's pushes.
      for (const p of pushes.splice(0)) await p.stop();
      for (const s of sockets.splice(0)) s.close();
      const cid = `tough${++attempt}`;
      const guestId = `guest${attempt}`;
      const channel = (await gw.admin('POST', '/api/v1/channels', { id: cid })).body;
      const hostPush = () => pushes.push(publishTestStream(channel.publishUrl, { color: '0xff0000', toneHz: 440, seconds: 120 }));
      hostPush();
      await waitFor('host on air', async () => ((await gw.admin('GET', `/api/v1/channels/${cid}`)).body.source === 'host' ? true : undefined), 20000);
      const { id } = (await gw.admin('POST', `/api/v1/channels/${cid}/recordings`)).body;
      const t0 = Date.now();
      const marks: Record<string, string> = {};
      const host = await connectAs(gw, 'anchor', 'host', cid);
      const guest = await connectAs(gw, guestId, 'viewer', cid);
      sockets.push(host, guest);
      const { invitationId } = await ask(host, 'cohost:invite', { channelId: cid, userId: guestId });
      const { conferenceId } = await ask(guest, 'cohost:accept', { invitationId });
      const guestPush = async () =>
        pushes.push(publishTestStream((await gw.admin('POST', `/api/v1/conferences/${conferenceId}/ingest`, { userId: guestId })).body.url, { color: '0x0000ff', toneHz: 1000, seconds: 120 }));
      await guestPush();
      await waitForColors(channel.playUrls.flv, W, H, [{ region: GUEST_WINDOW, color: BLUE }], 40000);

      // The mix's encoder dies and is restarted by its task.
      const mixTaskId = (await gw.admin('GET', `/api/v1/channels/${cid}`)).body.mixTaskId;
      const before = (await gw.admin('GET', `/api/v1/mix-tasks/${mixTaskId}`)).body;
      process.kill(before.processes.encoder, 'SIGKILL');
      marks.encoder = ((Date.now() - t0) / 1000).toFixed(2);
      await waitFor('encoder restarted', async () => ((await gw.admin('GET', `/api/v1/mix-tasks/${mixTaskId}`)).body.stats.encoderRestarts >= 1 ? true : undefined), 15000);
      await sleep(2000);

      // The origin dies and is restarted; the pushes come back as OBS's would.
      const origin = descendantPids(gw.pid).find((pid) => isRunning(pid) && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('origin-process'))!;
      process.kill(origin, 'SIGKILL');
      marks.origin = ((Date.now() - t0) / 1000).toFixed(2);
      for (const p of pushes.splice(0)) await p.stop();
      await sleep(1000);
      hostPush();
      await guestPush();
      await waitForColors(channel.playUrls.flv, W, H, [{ region: MAIN, color: RED }, { region: GUEST_WINDOW, color: BLUE }], 40000);
      await sleep(2000);

      expect((await gw.admin('GET', `/api/v1/recordings/${id}`)).body.state).toBe('recording');
      const view = (await gw.admin('DELETE', `/api/v1/recordings/${id}`)).body;
      expect(view).toMatchObject({ state: 'done', files: { mp4: expect.any(String) } });
      expect((await gw.admin('GET', `/api/v1/channels/${cid}/recordings`)).body).toHaveLength(1);
      const mp4 = await download(gw, view.files.mp4, join(work, 'tough.mp4'));
      // Every picture decodes, one timeline: no step between frames over a second.
      const { stdout } = await run('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'frame=pts_time', '-of', 'csv=p=0', mp4], { timeout: 60000, maxBuffer: 16 * 1024 * 1024 });
      // (ffprobe puts a blank line after a frame with side data, e.g. a new encoder session's SEI.)
      const times = stdout.split('\n').filter((l) => l.trim() !== '').map(Number).filter(Number.isFinite);
      const steps = times.slice(1).map((t, i) => t - times[i]);
      const gaps = steps.flatMap((d, i) => (d > 0.2 ? [`${times[i].toFixed(2)}+${d.toFixed(2)}`] : []));
      if (Math.max(...steps) >= 1) throw new Error(`gaps: ${gaps.join(', ')} (encoder killed at ${marks.encoder} s, origin at ${marks.origin} s of wall time)`);
      expect(Math.min(...steps)).toBeGreaterThan(0);
      expect(Math.abs(times.at(-1)! - times[0] - view.durationSeconds)).toBeLessThanOrEqual(0.5);
      const [main, window] = await colorsAtTime(mp4, view.durationSeconds - 1, [MAIN, GUEST_WINDOW]);
      if (!colorNear(main, RED, 50) || !colorNear(window, BLUE, 50)) throw new Error(`end of the recording: main ${rgb(main)}, guest window ${rgb(window)}`);
    }, 180000);
  });

  describe('record: true', () => {
    let gw: RunningGateway;
    const pushes: Publisher[] = [];
    const sockets: Socket[] = [];
    beforeAll(async () => {
      gw = await startGateway({ env: { MIX_RTP_MIN_PORT: String(51000 + Math.floor(Math.random() * 40) * 100), MIX_RTP_MAX_PORT: '59999' } });
    }, 60000);
    afterAll(async () => {
      for (const s of sockets) s.close();
      for (const p of pushes) await p.stop();
      await gw?.stop();
      if (gw) removeDir(gw.dataDir);
    });
    const recording = async (id: string) => (await gw.admin('GET', `/api/v1/recordings/${id}`)).body;
    /** Waits until the recording holds `seconds` of media. */
    const recorded = (id: string, seconds: number) => waitFor(`${seconds} s recorded`, async () => ((await recording(id)).durationSeconds >= seconds ? true : undefined), 30000);
    /** Waits until it is done with its MP4, and checks the MP4 is as long as the recording says and shows `color` in MAIN. */
    async function doneWithMp4(id: string, color: Rgb, file: string): Promise<void> {
      const view = await waitFor('done with its MP4', async () => {
        const r = await recording(id);
        return r.state === 'done' && r.files.mp4 ? r : undefined;
      }, 30000);
      const mp4 = await download(gw, view.files.mp4, join(work, file));
      expect(Math.abs((await durationOf(mp4)) - view.durationSeconds)).toBeLessThanOrEqual(0.3);
      const [main] = await colorsAtTime(mp4, Math.min(1.5, view.durationSeconds / 2), [MAIN]);
      if (!colorNear(main, color, 50)) throw new Error(`${file}: ${rgb(main)}, want ${color}`);
    }

    it('records a co-hosting session, a mix task and a bypass mapping from their start to their end', async () => {
      const GREEN: Rgb = [0, 255, 0];
      // A co-hosting session invited with record: true.
      const duo = (await gw.admin('POST', '/api/v1/channels', { id: 'duo' })).body;
      pushes.push(publishTestStream(duo.publishUrl, { color: '0xff0000', toneHz: 440, seconds: 120 }));
      await waitFor('host on air', async () => ((await gw.admin('GET', '/api/v1/channels/duo')).body.source === 'host' ? true : undefined), 20000);
      const host = await connectAs(gw, 'anchor', 'host', 'duo');
      const guest = await connectAs(gw, 'guest1', 'viewer', 'duo');
      sockets.push(host, guest);
      const { invitationId } = await ask(host, 'cohost:invite', { channelId: 'duo', userId: 'guest1', record: true });
      const accepted = await ask(guest, 'cohost:accept', { invitationId });
      expect(accepted).toMatchObject({ ok: true });
      const [session] = (await gw.admin('GET', '/api/v1/channels/duo/recordings')).body;
      expect(session).toMatchObject({ channelId: 'duo', state: 'recording' });
      pushes.push(publishTestStream((await gw.admin('POST', `/api/v1/conferences/${accepted.conferenceId}/ingest`, { userId: 'guest1' })).body.url, { color: '0x0000ff', toneHz: 1000, seconds: 120 }));
      await recorded(session.id, 3);
      expect(await ask(host, 'cohost:end', { channelId: 'duo' })).toMatchObject({ ok: true });
      await doneWithMp4(session.id, RED, 'session.mp4');

      // A meeting: one RTMP speaker, green.
      const bossToken = (await gw.admin('POST', '/api/v1/tokens', { userId: 'boss', role: 'host' })).body.token;
      const meeting: string = (await gw.request('POST', '/api/v1/conferences', { body: { title: 'All hands' }, headers: { authorization: `Bearer ${bossToken}` } })).body.id;
      await gw.admin('POST', `/api/v1/conferences/${meeting}/members`, { userId: 'speaker' });
      pushes.push(publishTestStream((await gw.admin('POST', `/api/v1/conferences/${meeting}/ingest`, { userId: 'speaker' })).body.url, { color: '0x00ff00', toneHz: 700, seconds: 120 }));
      await waitFor('speaker in', async () => ((await gw.admin('GET', `/api/v1/conferences/${meeting}`)).body.participants.some((p: { video: boolean }) => p.video) ? true : undefined), 20000);

      // A mix task with record: true records its own output; its conference's host may read it.
      const out = (await gw.admin('POST', '/api/v1/channels', { id: 'mixout' })).body;
      const task = await gw.request('POST', '/api/v1/mix-tasks', {
        body: { conferenceId: meeting, outputs: [{ url: out.publishUrl }], layout: { mode: 'grid' }, video: { width: 640, height: 360, fps: 15, bitrateKbps: 800, gopSeconds: 1 }, record: true },
        headers: { authorization: `Bearer ${bossToken}` },
      });
      expect(task).toMatchObject({ status: 201, body: { id: expect.any(String), recordingId: expect.stringMatching(/^rec_/) } });
      expect((await gw.request('GET', `/api/v1/recordings/${task.body.recordingId}`, { headers: { authorization: `Bearer ${bossToken}` } })).body).toMatchObject({ channelId: null, mixTaskId: task.body.id, state: 'recording' });
      await recorded(task.body.recordingId, 3);
      expect((await gw.admin('DELETE', `/api/v1/mix-tasks/${task.body.id}`)).status).toBe(200);
      await doneWithMp4(task.body.recordingId, GREEN, 'task.mp4');

      // A bypass mapping with record: true records the channel while it is mapped.
      await gw.admin('POST', '/api/v1/channels', { id: 'meet' });
      const mapped = await gw.admin('PUT', `/api/v1/conferences/${meeting}/live`, { channelId: 'meet', onDemand: false, layout: { mode: 'grid' }, record: true });
      expect(mapped).toMatchObject({ status: 200, body: { channelId: 'meet', recordingId: expect.stringMatching(/^rec_/) } });
      await recorded(mapped.body.recordingId, 3);
      expect((await gw.admin('DELETE', `/api/v1/conferences/${meeting}/live`)).status).toBe(200);
      await doneWithMp4(mapped.body.recordingId, GREEN, 'mapping.mp4');
    }, 150000);
  });

  describe('after SIGKILL of the whole gateway', () => {
    let gw: RunningGateway | undefined;
    let dataDir: string;
    const pushes: Publisher[] = [];
    afterAll(async () => {
      for (const p of pushes) await p.stop();
      await gw?.stop();
      removeDir(dataDir);
    });

    it('is interrupted at the next start and plays up to the kill', async () => {
      const [port, rtmp, http] = [await freePort(), await freePort(), await freePort()];
      const env = { EMBEDDED_RTMP_PORT: String(rtmp), EMBEDDED_HTTP_PORT: String(http) };
      gw = await startGateway({ env, port });
      dataDir = gw.dataDir;
      const channel = (await gw.admin('POST', '/api/v1/channels', { id: 'crash' })).body;
      pushes.push(publishTestStream(channel.publishUrl, { color: '0xff0000', toneHz: 440, seconds: 120 }));
      await waitFor('host on air', async () => ((await gw!.admin('GET', '/api/v1/channels/crash')).body.source === 'host' ? true : undefined), 20000);
      const { id } = (await gw.admin('POST', '/api/v1/channels/crash/recordings')).body;
      const startedAt = Date.now();
      await sleep(7000);

      // SIGKILL the gateway and everything it runs (nothing gets to clean up), as a crash or the OOM killer would.
      const family = [gw.pid, ...descendantPids(gw.pid)];
      const killedAt = Date.now();
      for (const pid of family) process.kill(pid, 'SIGKILL');
      await waitFor('all gone', () => (family.every((pid) => !isRunning(pid)) ? true : undefined), 10000);
      await pushes[0].exited;
      const recorded = (killedAt - startedAt) / 1000;

      gw = await startGateway({ env, port, dataDir });
      const view = (await gw.admin('GET', `/api/v1/recordings/${id}`)).body;
      expect(view).toMatchObject({ id, channelId: 'crash', state: 'interrupted', endedAt: expect.any(String) });
      expect(Math.abs(view.durationSeconds - recorded)).toBeLessThanOrEqual(1.5);
      expect((await gw.admin('GET', '/api/v1/channels/crash/recordings')).body.map((r: { id: string }) => r.id)).toEqual([id]);

      // The fragmented file plays up to the kill; an MP4 is made from it in the background.
      const fragmented = await download(gw, view.files.fragmented, join(work, 'crash-fragmented.mp4'));
      expect(Math.abs((await decodedSeconds(fragmented)) - recorded)).toBeLessThanOrEqual(1.5);
      const finalised = await waitFor('its MP4', async () => (await gw!.admin('GET', `/api/v1/recordings/${id}`)).body.files.mp4 ?? undefined, 30000);
      const mp4 = await download(gw, finalised, join(work, 'crash.mp4'));
      expect(Math.abs((await durationOf(mp4)) - recorded)).toBeLessThanOrEqual(1.5);
      const [main] = await colorsAtTime(mp4, 2, [MAIN]);
      expect(colorNear(main, RED, 50)).toBe(true);
      // Stopping it now changes nothing: it has ended.
      expect((await gw.admin('DELETE', `/api/v1/recordings/${id}`)).body).toMatchObject({ state: 'interrupted' });
    }, 120000);
  });

  describe('when the disk fills', () => {
    let gw: RunningGateway | undefined;
    let dataDir: string;
    let mountPoint: string;
    let mounted = false;
    const pushes: Publisher[] = [];
    const filler = () => join(mountPoint, 'filler');

    /** Fills the tmpfs until the kernel says ENOSPC (as the disk-full spec does). */
    function fillDisk(): void {
      for (const size of [64 * 1024, 512]) {
        const fd = openSync(filler(), 'a');
        try {
          for (;;) writeSync(fd, Buffer.alloc(size, 1));
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
        } finally {
          closeSync(fd);
        }
      }
    }

    beforeAll(async () => {
      // DATA_DIR on the ordinary disk (SQLite keeps working); its recordings folder a real 8 MiB tmpfs.
      dataDir = mkdtempSync(join(tmpdir(), 'gw-rec-full-'));
      mountPoint = join(dataDir, 'recordings');
      mkdirSync(mountPoint);
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', mountPoint]);
      mounted = true;
      gw = await startGateway({ dataDir, env: { RECORDING_MIN_FREE_MB: '2' } });
    }, 60000);
    afterAll(async () => {
      for (const p of pushes) await p.stop();
      await gw?.stop().catch(() => undefined);
      if (mounted) {
        try {
          execFileSync('umount', [mountPoint]);
        } catch {
          execFileSync('umount', ['-l', mountPoint]);
        }
      }
      removeDir(dataDir);
    });

    it('refuses to start without room (DISK_FULL), fails cleanly when full, keeps what was written, and the channel plays on', async () => {
      const channel = (await gw!.admin('POST', '/api/v1/channels', { id: 'full' })).body;
      pushes.push(publishTestStream(channel.publishUrl, { color: '0xff0000', toneHz: 440, seconds: 120 }));
      await waitFor('host on air', async () => ((await gw!.admin('GET', '/api/v1/channels/full')).body.source === 'host' ? true : undefined), 20000);

      fillDisk();
      expect(await gw!.admin('POST', '/api/v1/channels/full/recordings')).toMatchObject({ status: 503, body: { error: { code: 'DISK_FULL', message: expect.stringMatching(/RECORDING_MIN_FREE_MB/) } } });
      rmSync(filler());

      const { id } = (await gw!.admin('POST', '/api/v1/channels/full/recordings')).body;
      await sleep(4000);
      fillDisk();
      const failed = await waitFor('failed', async () => {
        const { body } = await gw!.admin('GET', `/api/v1/recordings/${id}`);
        return body.state === 'failed' ? body : undefined;
      }, 15000);
      expect(failed).toMatchObject({ state: 'failed', reason: expect.stringMatching(/ENOSPC/), endedAt: expect.any(String) });
      expect(failed.durationSeconds).toBeGreaterThan(3);

      // The channel plays on, the host in its colour, and the gateway is fine.
      expect((await gw!.admin('GET', '/api/v1/channels/full')).body).toMatchObject({ state: 'live', source: 'host' });
      await waitForColors(channel.playUrls.flv, W, H, [{ region: MAIN, color: RED }], 20000);
      expect(gw!.child.exitCode).toBeNull();

      // What was written plays, as long as the recording says.
      const part = await download(gw!, failed.files.fragmented, join(work, 'full-fragmented.mp4'));
      expect(Math.abs((await decodedSeconds(part)) - failed.durationSeconds)).toBeLessThanOrEqual(0.8);
      rmSync(filler());
    }, 120000);
  });
});
