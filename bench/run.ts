/**
 * Benchmark runner: `npm run bench -- <name>` runs one benchmark, writes
 * bench/results/<name>.json and rewrites that benchmark's section of
 * BENCHMARKS.md with the figures, the method and the date.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { bypassBench } from './bypass.bench';
import { clientMixBench } from './clientmix.bench';
import { cohostBench } from './cohost.bench';
import { loadBench } from './load.bench';
import { mixBench } from './mix.bench';
import { recoveryBench } from './recovery.bench';

interface Benchmark {
  run: () => Promise<Record<string, unknown>>;
  method: string;
  summary: (r: any) => string[];
}

const BENCHMARKS: Record<string, Benchmark> = {
  recovery: {
    run: recoveryBench,
    method:
      'The built gateway as a process (2 mediasoup workers, embedded origin). A conference of two RTMP participants (ffmpeg red/440 Hz and blue/1 kHz, 640x360@15) mapped to a channel (bypass live, immediate, grid). ' +
      'A picture probe (ffmpeg decoding the channel over HTTP-FLV to 16x9 RGB) timestamps every frame on arrival and says whether it shows red and blue side by side; an HTTP-FLV viewer (Node) stays connected through the worker deaths. ' +
      'Worker death, BENCH_RECOVERY_RUNS times (default 3): SIGKILL the worker under the conference; times from the kill until the conference is on another worker, until both participants produce again (the gateway re-ingests them), and until the probe sees both again after having lost them; the viewer\'s largest gap between frames meanwhile. ' +
      'Restart: SIGTERM, start again on the same data dir, participants push again at once (as OBS reconnects); times to stop, to ready, and from the new pushes until the restored mapping\'s mix shows both.',
    summary: (r) => [
      `| worker death → conference on another worker | median ${r.workerDeath.median.rebuiltMs} ms (runs ${r.workerDeath.runs.map((d: any) => d.rebuiltMs).join(', ')}) | |`,
      `| worker death → both participants producing again | median ${r.workerDeath.median.participantsBackMs} ms (runs ${r.workerDeath.runs.map((d: any) => d.participantsBackMs).join(', ')}) | |`,
      `| worker death → both back in the mixed picture | median ${r.workerDeath.median.pictureBackMs} ms (runs ${r.workerDeath.runs.map((d: any) => d.pictureBackMs).join(', ')}) | |`,
      `| viewer during worker deaths | connection kept: ${r.workerDeath.viewerConnectionKept ? 'yes' : 'NO'}, largest frame gap median ${r.workerDeath.median.viewerMaxGapMs} ms; the same mix ${r.workerDeath.mixState} throughout, encoder restarts ${r.workerDeath.mixEncoderRestarts} | kept, no restart |`,
      `| restart: stop (SIGTERM) / ready again | ${r.restart.stopMs} ms / ${r.restart.readyMs} ms, conference restored: ${r.restart.conferenceRestored ? 'yes' : 'NO'} | |`,
      `| restart: participants push again → both in the mixed picture | ${r.restart.pushToMixedPictureMs} ms (participants producing after ${r.restart.participantsBackMs} ms) | |`,
    ],
  },
  load: {
    run: loadBench,
    method:
      'The built gateway as a process on loopback. sockets: 2,000 socket.io clients from the bench process (100 hosts, their 100 guests, 1,800 idle viewers); every host sets client mixing (so sessions start no server mix: signalling only) and runs BENCH_LOAD_CYCLES (default 5) ' +
      'invite → accept → end cycles, all hosts at once; round trip = invite emitted → cohost:invited received by the guest. soak: BENCH_SOAK_MINUTES (default 10) of 4 grid mixes (640x360@15) of two RTMP participants each (320x180@15 pushes) ' +
      'plus socket churn (10 connect/apply/cancel/disconnect per second); /metrics sampled every 20 s; heap growth = lowest of the last three samples vs lowest of the first three after the first minute. Rate limits raised for the run.',
    summary: (r) => [
      r.sockets && `| connected sockets | ${r.sockets.sockets} (connected in ${r.sockets.connectMs} ms) | 2000 |`,
      r.sockets && `| invite → invited round trip, ${r.sockets.hosts} hosts × cycles (${r.sockets.inviteToInvitedMs.samples} samples) | p50 ${r.sockets.inviteToInvitedMs.p50} ms, p99 ${r.sockets.inviteToInvitedMs.p99} ms, max ${r.sockets.inviteToInvitedMs.max} ms | p99 <= 50 ms |`,
      r.sockets && `| error rate | ${r.sockets.errors} of ${r.sockets.calls} calls (${(r.sockets.errorRate * 100).toFixed(2)} %) | 0 |`,
      r.soak && `| soak ${r.soak.minutes} min, 4 mixes + churn (${r.soak.churnedSockets} sockets churned, ${r.soak.churnErrors} errors) | heap growth ${r.soak.heapGrowthPct} %, RSS ${r.soak.rssMb.start} → ${r.soak.rssMb.end} MB, mix speeds ${r.soak.mixSpeedsAtEnd.join(', ')} | heap growth < 10 % |`,
      r.soak && `| soak leaks | child processes ${r.soak.childProcesses.baseline} → ${r.soak.childProcesses.during} → ${r.soak.childProcesses.afterStop} after stopping; active handles ${r.soak.activeHandles.baseline} → ${r.soak.activeHandles.afterStop} | back to baseline |`,
    ].filter(Boolean),
  },
  clientmix: {
    run: clientMixBench,
    method:
      'The built gateway as a process (embedded origin). The host pushes its channel (ffmpeg 640x360@25, so both modes mix at that size); host and guest pages in Debian headless Chromium with fake camera/microphone files. ' +
      'One co-hosting session: client mode first (the host page composes with canvas + WebAudio and sends H.264, the gateway only packages: video remuxed, Opus → AAC), then the host switches to server mode in the same session. ' +
      'Each mode: 4 s to settle, then user+system CPU seconds of the gateway and all its descendants (mediasoup workers, origin, ffmpeg) per wall second over BENCH_CLIENTMIX_SECONDS (default 15). The browsers\' own CPU is not counted: in client mode it is the host device\'s cost.',
    summary: (r) => [
      `| server CPU per session, client mode | ${r.serverCpuPerSecond.clientMode} s/s | |`,
      `| server CPU per session, server mode (same session, same run) | ${r.serverCpuPerSecond.serverMode} s/s | |`,
      `| client / server | **${r.clientToServerRatio}x** | lower is cheaper for the server |`,
    ],
  },
  bypass: {
    run: bypassBench,
    method:
      'The built gateway as a process with the embedded origin; a conference of three RTMP participants (ffmpeg, 640x360@25 + tone) mapped on demand to a channel (BYPASS_IDLE_SECONDS=1). ' +
      'Each run waits until no mix runs, the channel is idle and the origin has dropped the old stream (LIVE_PUBLISH_GRACE_MS=500, +1.5 s), opens an HTTP-FLV player (Node, parsing tags) and times the arrival of its first video frame from the request. BENCH_BYPASS_RUNS runs (default 5).',
    summary: (r) => [`| play request → first frame at the player (on-demand bypass, median of ${r.playToFirstFrameMs.runsMs.length}) | ${r.playToFirstFrameMs.medianMs} ms (runs ${r.playToFirstFrameMs.runsMs.join(', ')}) | target <= 2000 ms |`],
  },
  mix: {
    run: mixBench,
    method:
      'In-process stack (real mediasoup workers, embedded origin, RTMP ingest, mixer). Participants are ffmpeg RTMP pushes of testsrc2 + tone. ' +
      'First frame: a player already waits on the output; time from the create call to its first video keyframe (5 runs). ' +
      'CPU: /proc utime+stime of the task\'s decoders, encoder and output relays plus the whole gateway Node process, over 15 s, per wall second; ' +
      'the bare encode runs the same x264/AAC settings on testsrc2 of the output size right after, in the same run. ' +
      'Concurrency: 2-party 640x360@15 mixes added two at a time; a step passes when every output runs at >= 0.98x speed with no dropped (repeated) frames for 6 s. ' +
      'Latency: participant 0 beeps 200 ms every 5 s; entry = the first loud Opus RTP packet in mediasoup\'s producer trace, exit = the first loud AAC tag read back from the origin over HTTP-FLV. ' +
      'A/V offset: a white flash is drawn with each beep; offsets are measured in the decoded output (silencedetect vs signalstats).',
    summary: (r) => [
      r.timeToFirstMixedFrameMs && `| time to first mixed frame (median of 5) | ${r.timeToFirstMixedFrameMs.medianMs} ms (runs: ${r.timeToFirstMixedFrameMs.runsMs.join(', ')}) | target <= 1000 ms |`,
      ...Object.entries(r.cpu ?? {}).map(
        ([k, v]: [string, any]) => `| CPU per output second, ${k} | mix ${v.mixCpuPerSecond} s/s vs bare encode ${v.bareEncodeCpuPerSecond} s/s = **${v.ratio}x** (speed ${v.speed}) | target <= 1.3x |`,
      ),
      r.concurrency && `| 2-party 640x360@15 mixes in real time at once | **${r.concurrency.maxRealtimeMixes}** | target >= 12 |`,
      r.addedLatencyMs && `| added latency, audio onset in mediasoup -> out of the origin | median ${r.addedLatencyMs.median} ms, max ${r.addedLatencyMs.max} ms (${r.addedLatencyMs.samples} onsets) | target <= 300 ms |`,
      r.avOffsetMs && `| A/V offset in the output | max ${r.avOffsetMs.maxAbs} ms over ${r.avOffsetMs.seconds} s (${r.avOffsetMs.values.join(', ')} ms) | target <= 80 ms |`,
    ].filter(Boolean),
  },
  cohost: {
    run: cohostBench,
    method:
      'The built gateway as a process, once with the embedded origin and once with nginx-rtmp (Debian libnginx-mod-rtmp) as LIVE_ORIGIN with on_publish hooks; ' +
      'BENCH_COHOST_RUNS runs each (default 3). The host pushes 640x360@25 (ffmpeg, 1 s GOP); one viewer stays connected the whole run ' +
      '(embedded: HTTP-FLV parsed in Node; nginx-rtmp: RTMP read by ffprobe, line-buffered). socket.io invite → accept (both then push RTMP into the conference), ' +
      '6 s of mix, kick → host alone. Gap = largest wall-clock gap between video frames at the viewer in the window (accept … kick−1 s) for switch-in and (kick … +3 s after the host is back) for switch-out; ' +
      'baseline = the same figure over the 3 s before accept. Timestamp step = largest difference between consecutive video timestamps; backward = most negative. ' +
      'Accept → first mixed frame = accept call to the arrival of the mix\'s codec config at the HTTP-FLV viewer.',
    summary: (r) =>
      (['embedded', 'nginxRtmp'] as const)
        .filter((o) => r[o])
        .flatMap((o) => {
          const x = r[o];
          const row = (label: string, s: any, goal: string) =>
            `| ${o}: ${label} | gap max ${s.maxGapMs} ms (runs ${s.gapsMs.join(', ')}), connection kept: ${s.connectionKept ? 'yes' : 'NO'}, ts step max ${s.maxTsStepMs} ms, backward ${s.maxBackwardMs} ms | ${goal} |`;
          return [
            x.acceptToFirstMixedFrameMs && `| ${o}: accept → first mixed frame at the viewer | median ${x.acceptToFirstMixedFrameMs.medianMs} ms (runs ${x.acceptToFirstMixedFrameMs.runsMs.join(', ')}) | target <= 1500 ms |`,
            `| ${o}: accept → channel source is the mix | median ${x.acceptToMixOnAirMs.medianMs} ms (runs ${x.acceptToMixOnAirMs.runsMs.join(', ')}) | |`,
            row('switch-in (host → mix)', x.switchIn, 'gap <= 300 ms, kept, no backward, step <= 500 ms'),
            row('switch-out (mix → host)', x.switchOut, 'gap <= 300 ms, kept, no backward, step <= 500 ms'),
            row('baseline (host only)', x.baseline, 'reference'),
          ].filter(Boolean);
        }),
  },
};

async function main(): Promise<void> {
  const name = process.argv[2];
  const bench = name ? BENCHMARKS[name] : undefined;
  if (!bench) {
    process.stderr.write(`usage: npm run bench -- <${Object.keys(BENCHMARKS).join('|')}>\n`);
    process.exit(2);
  }
  const started = new Date();
  const result = await bench.run();
  const root = join(__dirname, '..', '..');
  const record = { name, date: started.toISOString(), machine: { cpus: cpus().length, model: cpus()[0]?.model }, result };
  mkdirSync(join(root, 'bench', 'results'), { recursive: true });
  writeFileSync(join(root, 'bench', 'results', `${name}.json`), `${JSON.stringify(record, null, 2)}\n`);

  const file = join(root, 'BENCHMARKS.md');
  const existing = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n\nFigures from `npm run bench -- <name>` on the development machine (2 cores). Raw results: `bench/results/<name>.json`.\n';
  const section = [
    `<!-- bench:${name} -->`,
    `## ${name} (${started.toISOString().slice(0, 10)})`,
    '',
    '| figure | result | goal |',
    '|---|---|---|',
    ...bench.summary(result),
    '',
    `Method: ${bench.method}`,
    `<!-- /bench:${name} -->`,
  ].join('\n');
  const pattern = new RegExp(`<!-- bench:${name} -->[\\s\\S]*?<!-- /bench:${name} -->`);
  writeFileSync(file, pattern.test(existing) ? existing.replace(pattern, section) : `${existing.trimEnd()}\n\n${section}\n`);
  process.stdout.write(`${bench.summary(result).join('\n')}\n`);
  process.exit(0);
}

void main().catch((error: Error) => {
  process.stderr.write(`${error.stack ?? error.message}\n`);
  process.exit(1);
});
