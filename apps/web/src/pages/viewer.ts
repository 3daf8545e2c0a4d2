import mpegts from 'mpegts.js';
import { Signalling } from '../lib/signalling';
import { api, channelParams, Feedback, h } from '../lib/ui';
import { WhepPlayer } from '../lib/whep-player';

interface ChannelView {
  id: string;
  title: string;
  state: string;
  source: string;
  viewers: number;
  playUrls: { flv: string; rtmp: string; whep?: string };
}

declare global {
  interface Window {
    viewerPlayer?: { video: HTMLVideoElement; errors: string[]; whep?: WhepPlayer };
  }
}

/**
 * The viewer page: `#/viewer?channel=<id>&token=<viewer token>`. Plays the
 * channel's HTTP-FLV with mpegts.js (the URL never changes, whatever the
 * channel shows), and offers "apply to co-host". With `&mode=whep` ("low
 * latency") it plays the channel over WebRTC instead (WHEP, sub-second).
 */
export async function renderViewer(root: HTMLElement, params: URLSearchParams): Promise<void> {
  const { channelId, token } = channelParams(params);
  const lowLatency = params.get('mode') === 'whep';
  const otherMode = `#/viewer?channel=${encodeURIComponent(channelId)}&token=${encodeURIComponent(token)}${lowLatency ? '' : '&mode=whep'}`;
  const mode = h('a', { id: 'latency-mode', href: otherMode }, lowLatency ? 'Standard latency (HTTP-FLV)' : 'Low latency (WebRTC)');
  const state = h('span', { class: 'status', id: 'channel-state' }, 'loading…');
  const playback = h('span', { class: 'status', id: 'playback' }, 'not playing');
  const video = h('video', { id: 'player', muted: true, autoplay: true, playsinline: true, controls: true });
  const apply = h('button', { id: 'apply' }, 'Apply to co-host');
  const onMic = h('p', { id: 'on-mic' });
  const log = h('ul', { class: 'feedback', id: 'feedback' });
  root.append(
    h('section', { class: 'viewer' }, h('h2', {}, `Channel ${channelId}`), h('p', {}, 'State: ', state, ' · ', playback, ' · ', mode), video, h('p', {}, apply), onMic, h('h3', {}, 'What happened'), log),
  );
  const feedback = new Feedback(log);
  const errors: string[] = [];
  window.viewerPlayer = { video, errors };

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

  if (lowLatency) {
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

  const signalling = new Signalling(token);
  signalling.on<{ channelId: string; state: string; source: string }>('channel:state', (s) => {
    if (s.channelId !== channelId) return;
    showState(s);
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
