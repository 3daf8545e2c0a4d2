/// <reference lib="dom" />
/**
 * `npm run bench -- ladder`: the connectivity ladder (seed 003) on simulated
 * networks (test/support/netns.ts), side by side in one run.
 *
 * 1. Time to the other's picture on each rung: the built gateway (embedded
 *    TURN) in the internet namespace; two Chromium conference pages, each in
 *    a client namespace behind a router of the rung's kind (both behind
 *    endpoint-independent NATs → p2p; both symmetric → sfu-udp; one behind a
 *    TURN-only firewall → turn-tcp). Alice's page opens first; the clock
 *    starts when Bob's page is asked to load, and stops at the first picture
 *    of Alice's (her blue, read off a canvas at each presented frame with
 *    requestVideoFrameCallback) that Bob's page presents. It holds the page
 *    load, getUserMedia, signalling, the direct attempt (and on the lower
 *    rungs its P2P_TIMEOUT_MS), ICE and the first keyframe.
 * 2. Server bytes of a two-person call, direct vs through the SFU: the same
 *    two pages behind endpoint-independent NATs, once as they come (p2p) and
 *    once with `&p2p=off` (sfu-udp), each held BENCH_LADDER_SECONDS (default
 *    20) after both see each other; every byte to or from the server's
 *    address is counted by an nftables rule in the internet namespace
 *    by nftables counters: media (the SFU's RTC port range, UDP and TCP, and the TURN port), the HTTP port
 *    (pages, signalling, API) and everything, per minute.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { Client, RouterSpec, TestNetwork } from '../test/support/netns';
import type { Benchmark } from './support/benchmark';
import { RunningGateway } from './support/gateway';
import { waitFor } from './support/processes';

const SECONDS = Number(process.env.BENCH_LADDER_SECONDS ?? 20);
const RUNS = Number(process.env.BENCH_LADDER_RUNS ?? 3);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : NaN;
};

const PEOPLE = { alice: { hex: '0x0000ff', toneHz: 440 }, bob: { hex: '0x00ff00', toneHz: 1000 } };

interface Session {
  alice: Page;
  bob: Page;
  conferenceId: string;
  /** Bob's page asked to load → Bob's page presents Alice's picture, ms. */
  toPictureMs: number;
  paths: Record<string, string | undefined>;
}

/** Waits (in the page) for the first presented frame of `userId`'s remote video that is mostly blue; resolves with its epoch ms. */
function firstBluePicture(page: Page, userId: string, timeoutMs: number): Promise<number> {
  return page.evaluate(
    ({ userId, timeoutMs }) =>
      new Promise<number>((resolve, reject) => {
        const deadline = Date.now() + timeoutMs;
        const canvas = document.createElement('canvas');
        canvas.width = 32;
        canvas.height = 18;
        const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
        const video = document.createElement('video') as HTMLVideoElement & { requestVideoFrameCallback(cb: () => void): number };
        video.muted = true;
        let attached: MediaStreamTrack | undefined;
        const onFrame = () => {
          ctx.drawImage(video, 0, 0, 32, 18);
          const d = ctx.getImageData(0, 0, 32, 18).data;
          let b = 0;
          let rg = 0;
          for (let i = 0; i < d.length; i += 4) {
            b += d[i + 2];
            rg += d[i] + d[i + 1];
          }
          if (b / (d.length / 4) > 180 && rg / (d.length / 4) < 120) return resolve(Date.now());
          video.requestVideoFrameCallback(onFrame);
        };
        const poll = () => {
          if (Date.now() > deadline) return reject(new Error(`no picture of ${userId}`));
          const track = (window as unknown as { conferenceClient?: { remotes: Map<string, { stream: MediaStream }> } }).conferenceClient?.remotes
            .get(userId)
            ?.stream.getVideoTracks()
            .find((t) => t.readyState === 'live');
          if (track && track !== attached) {
            attached = track;
            video.srcObject = new MediaStream([track]);
            void video.play().catch(() => undefined);
            video.requestVideoFrameCallback(onFrame);
          }
          setTimeout(poll, 10);
        };
        poll();
      }),
    { userId, timeoutMs },
  );
}

class LadderRig {
  net!: TestNetwork;
  gw!: RunningGateway;
  media = mkdtempSync(join(tmpdir(), 'ladder-bench-'));
  readonly browsers: Browser[] = [];
  #clients = 0;

  async start(): Promise<void> {
    for (const [name, p] of Object.entries(PEOPLE)) {
      execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', `color=c=${p.hex}:size=640x360:rate=25`, '-t', '2', '-pix_fmt', 'yuv420p', join(this.media, `${name}.y4m`)]);
      execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', `sine=frequency=${p.toneHz}:sample_rate=48000`, '-t', '4', join(this.media, `${name}.wav`)]);
    }
    this.net = await TestNetwork.create();
    this.gw = await this.net.startGateway({ env: { TURN: 'embedded', CONFERENCE_IDLE_SECONDS: '300' } });
  }

  async stop(): Promise<void> {
    for (const b of this.browsers) await b.close().catch(() => undefined);
    await this.net?.destroy();
    rmSync(this.media, { recursive: true, force: true });
  }

  #token = async (userId: string) => (await this.gw.admin('POST', '/api/v1/tokens', { userId, role: 'guest' })).body.token as string;

  async #page(client: Client, who: 'alice' | 'bob', conferenceId: string, p2p: boolean): Promise<{ page: Page; askedAt: number }> {
    const browser = await this.net.launchChromium(client, [
      `--unsafely-treat-insecure-origin-as-secure=${this.gw.baseUrl}`,
      `--use-file-for-fake-video-capture=${join(this.media, `${who}.y4m`)}`,
      `--use-file-for-fake-audio-capture=${join(this.media, `${who}.wav`)}`,
    ]);
    this.browsers.push(browser);
    const page = await browser.newPage();
    const url = `${this.gw.baseUrl}/#/conference?id=${conferenceId}&token=${await this.#token(who)}${p2p ? '' : '&p2p=off'}`;
    const askedAt = Date.now();
    await page.goto(url);
    return { page, askedAt };
  }

  /** A two-person call with each behind its own router; resolves once Bob's page shows Alice and both paths are known. */
  async session(routers: { alice: RouterSpec; bob: RouterSpec }, p2p = true): Promise<Session> {
    const conferenceId = (await this.gw.admin('POST', '/api/v1/conferences', { title: 'ladder bench' })).body.id as string;
    for (const userId of Object.keys(PEOPLE)) await this.gw.admin('POST', `/api/v1/conferences/${conferenceId}/members`, { userId });
    const k = (this.#clients += 1);
    const alice = await this.#page(this.net.addClient(`l${k}a`, routers.alice), 'alice', conferenceId, p2p);
    await alice.page.waitForFunction(() => document.querySelector('#status')?.textContent === 'joined', undefined, { timeout: 30000 });
    const bob = await this.#page(this.net.addClient(`l${k}b`, routers.bob), 'bob', conferenceId, p2p);
    const shownAt = await firstBluePicture(bob.page, 'alice', 40000);
    const paths = await waitFor(
      'both paths',
      async () => {
        const participants = (await this.gw.admin('GET', `/api/v1/conferences/${conferenceId}`)).body.participants as { userId: string; path?: string }[];
        return participants.length === 2 && participants.every((p) => p.path) ? Object.fromEntries(participants.map((p) => [p.userId, p.path])) : undefined;
      },
      30000,
    );
    return { alice: alice.page, bob: bob.page, conferenceId, toPictureMs: shownAt - bob.askedAt, paths };
  }

  async end(s: Session): Promise<void> {
    await s.alice.close();
    await s.bob.close();
    for (const b of this.browsers.splice(0)) await b.close().catch(() => undefined);
  }

  /**
   * Bytes to and from the server's address so far, by kind (the internet
   * namespace counts them). Callers take differences: `nft reset counters`
   * resets named counters only, not the rules' own.
   */
  async serverBytes(): Promise<Record<string, number>> {
    const ns = this.net.internet.name;
    const out = (await this.net.run(ns, 'nft', ['-j', 'list', 'table', 'inet', 'ladderbench'])).stdout;
    const parsed = JSON.parse(out) as { nftables: { rule?: { comment?: string; expr: { counter?: { bytes: number } }[] } }[] };
    const by: Record<string, number> = {};
    for (const x of parsed.nftables) if (x.rule) by[x.rule.comment ?? '?'] = (by[x.rule.comment ?? '?'] ?? 0) + x.rule.expr.reduce((m, e) => m + (e.counter?.bytes ?? 0), 0);
    return by;
  }

  async countServerBytes(): Promise<void> {
    const a = this.gw.env.HOST;
    const rtc = `${this.gw.env.RTC_MIN_PORT}-${this.gw.env.RTC_MAX_PORT}`;
    const http = this.gw.env.PORT;
    const ruleset = `table inet ladderbench {
  chain server_in { type filter hook input priority 0; ip daddr ${a} udp dport ${rtc} counter comment "rtc-udp"; ip daddr ${a} tcp dport ${rtc} counter comment "rtc-tcp"; ip daddr ${a} tcp dport ${http} counter comment "http"; ip daddr ${a} meta l4proto { tcp, udp } th dport 3478 counter comment "turn"; ip daddr ${a} counter comment "all"; }
  chain server_out { type filter hook output priority 0; ip saddr ${a} udp sport ${rtc} counter comment "rtc-udp"; ip saddr ${a} tcp sport ${rtc} counter comment "rtc-tcp"; ip saddr ${a} tcp sport ${http} counter comment "http"; ip saddr ${a} meta l4proto { tcp, udp } th sport 3478 counter comment "turn"; ip saddr ${a} counter comment "all"; }
}`;
    const r = await this.net.run(this.net.internet.name, 'nft', ['-f', '-'], { input: ruleset });
    if (r.code !== 0) throw new Error(`nft: ${r.stderr}`);
  }
}

async function ladderBench(): Promise<Record<string, unknown>> {
  const rig = new LadderRig();
  try {
    await rig.start();
    const rungs: Record<string, { alice: RouterSpec; bob: RouterSpec }> = {
      p2p: { alice: { kind: 'eim' }, bob: { kind: 'eim' } },
      'sfu-udp': { alice: { kind: 'symmetric' }, bob: { kind: 'symmetric' } },
      'turn-tcp': { alice: { kind: 'eim' }, bob: { kind: 'firewall', allowTcpPorts: [3478, Number(rig.gw.env.PORT)] } },
    };
    const toPicture: Record<string, { runs: number[]; median: number; paths: string[] }> = {};
    for (const [rung, routers] of Object.entries(rungs)) {
      const runs: number[] = [];
      const paths: string[] = [];
      for (let i = 0; i < RUNS; i++) {
        const s = await rig.session(routers);
        runs.push(s.toPictureMs);
        paths.push(`${s.paths.alice}/${s.paths.bob}`);
        await rig.end(s);
      }
      toPicture[rung] = { runs, median: median(runs), paths };
    }

    // Server bytes per minute of one two-person call, direct and through the SFU, one after the other.
    await rig.countServerBytes();
    const bytes: Record<string, { mediaPerMinute: number; httpPerMinute: number; allPerMinute: number; paths: string; producing: string[] }> = {};
    for (const [label, p2p] of [['p2p', true], ['sfu', false]] as const) {
      const s = await rig.session(rungs.p2p, p2p);
      await new Promise((r) => setTimeout(r, 3000));
      const before = await rig.serverBytes();
      const from = Date.now();
      await new Promise((r) => setTimeout(r, SECONDS * 1000));
      const after = await rig.serverBytes();
      const by = Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - (before[k] ?? 0)]));
      const seconds = (Date.now() - from) / 1000;
      const perMinute = (n: number | undefined) => Math.round(((n ?? 0) / seconds) * 60);
      const producing = ((await rig.gw.admin('GET', `/api/v1/conferences/${s.conferenceId}`)).body.participants as { userId: string; audio: boolean; video: boolean }[])
        .filter((p) => p.audio || p.video)
        .map((p) => p.userId);
      bytes[label] = {
        mediaPerMinute: perMinute((by['rtc-udp'] ?? 0) + (by['rtc-tcp'] ?? 0) + (by.turn ?? 0)),
        httpPerMinute: perMinute(by.http),
        allPerMinute: perMinute(by.all),
        paths: `${s.paths.alice}/${s.paths.bob}`,
        producing,
      };
      await rig.end(s);
    }
    return {
      toPicture,
      serverBytesPerMinute: bytes,
      sfuToP2pMediaBytes: Number((bytes.sfu.mediaPerMinute / Math.max(1, bytes.p2p.mediaPerMinute)).toFixed(1)),
      seconds: SECONDS,
      runs: RUNS,
    };
  } finally {
    await rig.stop();
  }
}

const fmt = (n: number) => n.toLocaleString('en-US');

export const benchmark: Benchmark = {
  run: ladderBench,
  method:
    'Simulated networks (test/support/netns.ts: network namespaces, veth, nftables NAT) with the built gateway, its SFU and its embedded coturn in the internet namespace, and two Debian Chromium conference pages (fake camera files: Alice blue, Bob green) each in a client namespace behind its own router. ' +
    'Time to the other picture: Alice joins first; from the moment Bob\'s page is asked to load (so it holds the page load, getUserMedia, signalling, the direct attempt and, on the lower rungs, its P2P_TIMEOUT_MS of 2.5 s, ICE and the first keyframe) to the first frame of Alice\'s that Bob\'s page presents showing her blue (requestVideoFrameCallback, read off a canvas); BENCH_LADDER_RUNS runs per rung (default 3). Routers: both endpoint-independent NAT (p2p), both symmetric NAT (sfu-udp), Bob behind a firewall passing only TCP to the TURN port and the gateway\'s HTTP port (turn-tcp); the paths the gateway reported are listed. ' +
    'Server bytes: the same two pages behind endpoint-independent NATs, once as they come (direct) and once with &p2p=off (through the SFU), counted 3 s after Bob sees Alice for BENCH_LADDER_SECONDS (default 20) by nftables counters on the packets to or from the server\'s address in the internet namespace: media (the SFU\'s RTC ports, UDP and TCP, and the TURN port), the gateway\'s HTTP port (pages, socket.io, API, the bench\'s own calls through the host link) and all of them. A two-person conference call stands in for a client-mode co-hosting session: the guest\'s media takes the same rung; the host\'s composed program, which goes to the server either way, is not in it.',
  summary: (r) => [
    ...Object.entries(r.toPicture as Record<string, { runs: number[]; median: number; paths: string[] }>).map(
      ([rung, x]) => `| ${rung}: page asked to load → first picture of the other | median ${fmt(x.median)} ms (runs ${x.runs.map(fmt).join(', ')}; paths ${[...new Set(x.paths)].join(', ')}) | |`,
    ),
    ...(['p2p', 'sfu'] as const).map((k) => {
      const b = r.serverBytesPerMinute[k];
      return `| server bytes per minute, two-person call, ${k === 'p2p' ? 'direct' : 'through the SFU'} (paths ${b.paths}; producing on the SFU: ${b.producing.join(', ') || 'nobody'}) | media (RTC ports + TURN) ${fmt(b.mediaPerMinute)} B/min; HTTP port ${fmt(b.httpPerMinute)} B/min; all ${fmt(b.allPerMinute)} B/min | |`;
    }),
    `| media bytes through the SFU / direct | **${r.sfuToP2pMediaBytes}x** | higher means the direct path saves more |`,
  ],
};
