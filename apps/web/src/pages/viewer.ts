import Hls from 'hls.js';
import mpegts from 'mpegts.js';
import { Signalling } from '../lib/signalling';
import { SwarmAgent } from '../lib/swarm-agent';
import { HlsPlayback, startHlsPlayer } from '../lib/swarm-player';
import { api, channelParams, Feedback, h } from '../lib/ui';
import { WhepPlayer } from '../lib/whep-player';

interface ChannelView {
  id: string;
  title: string;
  state: string;
  source: string;
  viewers: number;
  playUrls: { flv: string; rtmp: string; hls?: string; whep?: string };
}

type Mode = 'p2p' | 'hls' | 'flv' | 'whep';

declare global {
  interface Window {
    viewerPlayer?: { video: HTMLVideoElement; errors: string[]; mode: Mode; whep?: WhepPlayer; swarm?: SwarmAgent; playback?: HlsPlayback };
  }
}

const MODE_NAMES: Record<Mode, string> = { p2p: 'Shared (HLS from peers)', hls: 'HLS', flv: 'HTTP-FLV', whep: 'Low latency (WebRTC)' };

/** What the page plays by default: the program shared between viewers where the browser can, else HTTP-FLV (MSE), else HLS natively. */
function defaultMode(): Mode {
  if (Hls.isSupported() && SwarmAgent.supported()) return 'p2p';
  return mpegts.isSupported() ? 'flv' : 'hls';
}

/**
 * The viewer page: `#/viewer?channel=<id>&token=<viewer token>`. By default it
 * plays the channel's HLS with hls.js, its segments shared with the channel's
 * other viewers (seed 002, `mode=p2p`: each takes a sub-stream from the origin
 * and the rest from peers, and shows how many bytes came from each); where
 * WebRTC or MSE is missing it falls back to HTTP-FLV (mpegts.js), or to the
 * browser's own HLS. `mode=flv`, `mode=hls` and `mode=whep` (WebRTC,
 * sub-second) choose. The URLs never change, whatever the channel shows. It
 * offers "apply to co-host".
 */
export async function renderViewer(root: HTMLElement, params: URLSearchParams): Promise<void> {
  const { channelId, token } = channelParams(params);
  const asked = params.get('mode') as Mode | null;
  const chosen: Mode = asked && asked in MODE_NAMES ? asked : defaultMode();
  const lowLatency = chosen === 'whep';
  const modeHref = (m: Mode) => `#/viewer?channel=${encodeURIComponent(channelId)}&token=${encodeURIComponent(token)}&mode=${m}`;
  const mode = h('a', { id: 'latency-mode', href: modeHref(lowLatency ? 'flv' : 'whep') }, lowLatency ? 'Standard latency (HTTP-FLV)' : 'Low latency (WebRTC)');
  const modes = h('span', { id: 'modes' }, ...(Object.keys(MODE_NAMES) as Mode[]).flatMap((m) => [' · ', m === chosen ? h('b', {}, MODE_NAMES[m]) : h('a', { href: modeHref(m), 'data-mode': m }, MODE_NAMES[m])]));
  const state = h('span', { class: 'status', id: 'channel-state' }, 'loading…');
  const playback = h('span', { class: 'status', id: 'playback' }, 'not playing');
  const shared = h('p', { id: 'p2p-stats', class: 'status' });
  const video = h('video', { id: 'player', muted: true, autoplay: true, playsinline: true, controls: true });
  const apply = h('button', { id: 'apply' }, 'Apply to co-host');
  const onMic = h('p', { id: 'on-mic' });
  const log = h('ul', { class: 'feedback', id: 'feedback' });
  root.append(
    h('section', { class: 'viewer' }, h('h2', {}, `Channel ${channelId}`), h('p', {}, 'State: ', state, ' · ', playback, ' · ', mode), h('p', {}, 'Play as', modes), video, shared, h('p', {}, apply), onMic, h('h3', {}, 'What happened'), log),
  );
  const feedback = new Feedback(log);
  const errors: string[] = [];
  window.viewerPlayer = { video, errors, mode: chosen };

  let channel: ChannelView;
  try {
    channel = await api<ChannelView>(token, 'GET', `/channels/${encodeURIComponent(channelId)}`);
  } catch (error) {
    feedback.error('cannot load the channel', error);
    state.textContent = 'unavailable';
    state.classList.add('bad');
    return;
  }
  const showState = (s: { state: string; source: string }) => {
    state.textContent = `${s.state} (${s.source})`;
    state.className = `status ${s.state === 'idle' ? 'bad' : 'ok'}`;
  };
  showState(channel);

  const signalling = new Signalling(token);
  if (chosen === 'p2p' || chosen === 'hls') {
    const hlsUrl = channel.playUrls.hls?.replace(/index\.m3u8$/, 'plain.m3u8');
    video.addEventListener('playing', () => {
      playback.textContent = chosen === 'p2p' ? 'playing (shared)' : 'playing (HLS)';
      playback.className = 'status ok';
    });
    video.addEventListener('waiting', () => (playback.textContent = 'buffering…'));
    if (!hlsUrl) {
      feedback.error('this channel has no HLS');
    } else if (!Hls.isSupported()) {
      // No MSE (iPhone Safari): the browser's own HLS player, straight from the origin.
      video.src = channel.playUrls.hls!;
      void video.play().catch((error: Error) => feedback.error('cannot start playback', error));
    } else {
      let agent: SwarmAgent | undefined;
      if (chosen === 'p2p') {
        const bufferAheadMs = () => {
          const { buffered, currentTime } = video;
          return buffered.length ? Math.max(0, (buffered.end(buffered.length - 1) - currentTime) * 1000) : 0;
        };
        agent = new SwarmAgent(signalling, channelId, { bufferAheadMs, onInfo: (text) => feedback.info(text) });
        window.viewerPlayer.swarm = agent;
        try {
          await agent.start();
        } catch (error) {
          feedback.error('cannot join the viewers\' swarm; playing from the origin', error);
          agent.stop();
          agent = undefined;
          window.viewerPlayer.swarm = undefined;
        }
        const shownAgent = agent;
        if (shownAgent) {
          const kb = (n: number) => `${Math.round(n / 1024)} KB`;
          const show = () => {
            const st = shownAgent.stats;
            const total = st.bytesFromPeers + st.bytesFromOrigin;
            shared.textContent = `from peers ${kb(st.bytesFromPeers)} (${total ? Math.round((100 * st.bytesFromPeers) / total) : 0} %) · from the origin ${kb(st.bytesFromOrigin)} · to peers ${kb(st.bytesToPeers)} · ${st.peers} peer(s) · sub-stream ${st.substream} of ${st.s}${st.rejectedBlocks ? ` · ${st.rejectedBlocks} bad block(s) dropped` : ''}`;
          };
          const timer = setInterval(show, 1000);
          window.addEventListener('hashchange', () => clearInterval(timer), { once: true });
        }
      }
      const hlsPlayer = startHlsPlayer(video, hlsUrl, agent, (text) => (errors.push(text), feedback.error(text)));
      window.viewerPlayer.playback = hlsPlayer;
      window.addEventListener(
        'hashchange',
        () => {
          agent?.stop();
          hlsPlayer.stop();
        },
        { once: true },
      );
    }
  } else if (lowLatency) {
    if (!channel.playUrls.whep || typeof RTCPeerConnection === 'undefined') {
      feedback.error('low-latency playback is not available here (no WHEP URL or no WebRTC)');
    } else {
      const whep = new WhepPlayer(channel.playUrls.whep, token, video, { onInfo: (t) => feedback.info(t), onError: (t) => (errors.push(t), feedback.error(t)) });
      window.viewerPlayer.whep = whep;
      video.addEventListener('playing', () => {
        playback.textContent = 'playing (low latency)';
        playback.className = 'status ok';
      });
      whep.start();
      window.addEventListener('hashchange', () => void whep.stop(), { once: true });
    }
  } else if (!mpegts.isSupported()) {
    feedback.error('this browser cannot play HTTP-FLV (no Media Source Extensions)');
  } else {
    // A broken stream or a decode error leaves the <video> stuck for good, and an ended one
    // plays nothing more: start a fresh player on the same URL (the channel's URL never
    // changes), backing off to 5 s after errors.
    let player: mpegts.Player | undefined;
    let retryMs = 1000;
    let retry: ReturnType<typeof setTimeout> | undefined;
    let startedAt = 0;
    /** A fresh player in `ms`, unless one is already due. */
    const restartIn = (ms: number) => {
      if (retry) return;
      retry = setTimeout(() => {
        retry = undefined;
        start();
      }, ms);
    };
    const recover = (why: string) => {
      errors.push(why);
      feedback.error(`player error: ${why}; restarting the player`);
      if (retry) return;
      restartIn(retryMs);
      retryMs = Math.min(retryMs * 2, 5000);
    };
    const start = () => {
      startedAt = Date.now();
      if (player) {
        player.destroy();
        video.removeAttribute('src');
        video.load();
      }
      const created = mpegts.createPlayer({ type: 'flv', isLive: true, url: channel.playUrls.flv }, { enableStashBuffer: false, liveBufferLatencyChasing: true });
      player = created;
      created.on(mpegts.Events.ERROR, (type: string, detail: string) => {
        if (player === created) recover(`${type} ${detail}`);
      });
      // The channel went off air (the origin ended the stream): wait for it on the same URL.
      created.on(mpegts.Events.LOADING_COMPLETE, () => {
        if (player !== created || retry) return;
        feedback.info('the stream ended; waiting for the channel to come back');
        restartIn(2000);
      });
      created.attachMediaElement(video);
      created.load();
      void Promise.resolve(created.play()).catch((error: Error) => feedback.error('cannot start playback', error));
    };
    video.addEventListener('error', () => {
      // Detaching the old player empties the element's source, which some browsers report as an error.
      if (!video.error || Date.now() - startedAt < 500) return;
      recover(`media element: ${video.error.message || `code ${video.error.code}`}`);
    });
    video.addEventListener('playing', () => {
      playback.textContent = 'playing';
      playback.className = 'status ok';
      retryMs = 1000;
    });
    video.addEventListener('waiting', () => (playback.textContent = 'buffering…'));
    start();
  }

  signalling.on<{ channelId: string; state: string; source: string }>('channel:state', (s) => {
    if (s.channelId !== channelId) return;
    showState(s);
    if (s.state !== 'idle') window.viewerPlayer?.playback?.onAir();
    feedback.info(`channel is ${s.state}, showing ${s.source}`);
  });
  for (const event of ['cohost:accepted', 'cohost:rejected', 'cohost:expired', 'cohost:cancelled'] as const) {
    signalling.on<{ invitationId: string; reason?: string }>(event, (p) => feedback.info(`${event.slice(7)}: ${p.invitationId}${p.reason ? ` (${p.reason})` : ''}`));
  }
  signalling.on<{ invitationId: string; from: string }>('cohost:invited', (p) => {
    feedback.info(`${p.from} invites you on mic`);
    onMic.replaceChildren(h('a', { href: `#/guest?channel=${encodeURIComponent(channelId)}&token=${encodeURIComponent(token)}` }, 'Answer the invitation on the guest page'));
  });
  signalling.on<{ conferenceId: string }>('cohost:started', ({ conferenceId }) => {
    const href = `#/guest?channel=${encodeURIComponent(channelId)}&token=${encodeURIComponent(token)}&conference=${encodeURIComponent(conferenceId)}`;
    onMic.replaceChildren(h('a', { href }, 'You are on mic: join with camera on the guest page'));
  });
  apply.addEventListener('click', () => {
    void feedback.run('applied to co-host', () => signalling.request<{ invitationId: string }>('cohost:apply', { channelId }));
  });
  window.addEventListener('hashchange', () => signalling.close(), { once: true });
}
