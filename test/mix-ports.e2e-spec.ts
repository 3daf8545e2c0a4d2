import { createSocket, Socket as UdpSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { removeDir, RunningGateway, startGateway } from '../bench/support/gateway';
import { socketInodes, waitFor } from '../bench/support/processes';
import { publishTestStream, Publisher } from './support/media';
import { waitForColors } from './support/mix-checks';

/**
 * A mixer decoder's UDP ports taken by another process while the decoder
 * restarts (they lie in the kernel's ephemeral range, so any outgoing UDP
 * socket may be given one): the mix must consume the participant again on
 * fresh ports, not restart a decoder that can never bind. Real gateway,
 * ffmpeg ingest and mixer; the squatter is this test's own UDP sockets.
 */

/** The UDP ports a process has bound, from /proc (its socket fds matched against /proc/net/udp). */
function udpPortsOf(pid: number): number[] {
  const inodes = socketInodes(pid);
  return readFileSync('/proc/net/udp', 'utf8')
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => f.length > 9 && inodes.has(f[9]))
    .map((f) => parseInt(f[1].split(':')[1], 16));
}

function bindUntil(port: number, deadline: number): Promise<UdpSocket> {
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const socket = createSocket('udp4');
      socket.once('error', (error) => {
        socket.close();
        if (Date.now() > deadline) reject(error);
        else setTimeout(attempt, 5);
      });
      socket.bind(port, '127.0.0.1', () => resolve(socket));
    };
    attempt();
  });
}

describe("a mixer decoder's ports taken by another process", () => {
  let gw: RunningGateway;
  let push: Publisher | undefined;
  const squatters: UdpSocket[] = [];

  beforeAll(async () => {
    gw = await startGateway({ env: { SFU_WORKERS: '1' } });
  }, 60000);

  afterAll(async () => {
    for (const s of squatters) s.close();
    await push?.stop();
    await gw?.stop();
    if (gw) removeDir(gw.dataDir);
  });

  it('consumes the participant again on fresh ports, and the picture comes back', async () => {
    const conferenceId = (await gw.admin('POST', '/api/v1/conferences', { title: 'ports' })).body.id as string;
    const channel = (await gw.admin('POST', '/api/v1/channels', { id: 'ports' })).body;
    const url = (await gw.admin('POST', `/api/v1/conferences/${conferenceId}/ingest`, { userId: 'p1' })).body.url;
    push = publishTestStream(url, { color: '0x0000ff', toneHz: 440, fps: 25, seconds: 120 });
    await waitFor('p1 in the conference', async () => ((await gw.admin('GET', `/api/v1/conferences/${conferenceId}`)).body.participants.some((p: { userId: string; video: boolean }) => p.userId === 'p1' && p.video) ? true : undefined), 20000);
    const task = (
      await gw.admin('POST', '/api/v1/mix-tasks', {
        conferenceId,
        outputs: [{ url: channel.publishUrl }],
        layout: { mode: 'grid' },
        video: { width: 640, height: 360, fps: 15, bitrateKbps: 500, gopSeconds: 1 },
        audio: { sampleRate: 48000, channels: 2, bitrateKbps: 64 },
      })
    ).body;
    const view = async () => (await gw.admin('GET', `/api/v1/mix-tasks/${task.id}`)).body;
    await waitFor("p1's picture in the mix", async () => ((await view()).pictures?.p1?.stalled === false ? true : undefined), 20000);
    const whole = { x: 160, y: 90, w: 320, h: 180 };
    await waitForColors(channel.playUrls.flv, 640, 360, [{ region: whole, color: [0, 0, 255] }], 20000);

    // Kill p1's decoder and take its ports before it can bind them again.
    const decoder = (await view()).processes.decoders.p1 as number;
    const ports = udpPortsOf(decoder);
    expect(ports.length).toBeGreaterThanOrEqual(2);
    process.kill(decoder, 'SIGKILL');
    const deadline = Date.now() + 150;
    for (const port of ports) squatters.push(await bindUntil(port, deadline));

    // Consumed again on new ports: a new decoder, other ports, and p1 back in the picture.
    const after = await waitFor('a new decoder of p1 showing its picture', async () => {
      const v = await view();
      const pid = v.processes.decoders.p1 as number | null;
      return pid && pid !== decoder && v.pictures?.p1?.stalled === false ? pid : undefined;
    }, 20000);
    expect(udpPortsOf(after).some((p) => ports.includes(p))).toBe(false);
    await waitForColors(channel.playUrls.flv, 640, 360, [{ region: whole, color: [0, 0, 255] }], 20000);
    expect(gw.output()).toMatch(/decoder ports [\d, ]+ of p1 are held by another process; consuming it again on new ports/);
  }, 90000);
});
