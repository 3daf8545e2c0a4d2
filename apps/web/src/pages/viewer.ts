import mpegts from 'mpegts.js';
import { Signalling } from '../lib/signalling';
import { api, channelParams, Feedback, h } from '../lib/ui';

interface ChannelView {
  id: string;
  title: string;
  state: string;
  source: string;
  viewers: number;
  playUrls: { flv: string; rtmp: string };
}

declare global {
  interface Window {
    viewerPlayer?: { video: HTMLVideoElement; errors: string[] };
  }
}

/**
 * The viewer page: `#/viewer?channel=<id>&token=<viewer token>`. Plays the
 * channel's HTTP-FLV with mpegts.js (the URL never changes, whatever the
 * channel shows), and offers "apply to co-host".
 */
export async function renderViewer(root: HTMLElement, params: URLSearchParams): Promise<void> {
  const { channelId, token } = channelParams(params);
  const state = h('span', { class: 'status', id: 'channel-state' }, 'loading…');
  const playback = h('span', { class: 'status', id: 'playback' }, 'not playing');
  const video = h('video', { id: 'player', muted: true, autoplay: true, playsinline: true, controls: true });
  const apply = h('button', { id: 'apply' }, 'Apply to co-host');
  const onMic = h('p', { id: 'on-mic' });
  const log = h('ul', { class: 'feedback', id: 'feedback' });
  root.append(
    h('section', { class: 'viewer' }, h('h2', {}, `Channel ${channelId}`), h('p', {}, 'State: ', state, ' · ', playback), video, h('p', {}, apply), onMic, h('h3', {}, 'What happened'), log),
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

  if (!mpegts.isSupported()) {
    feedback.error('this browser cannot play HTTP-FLV (no Media Source Extensions)');
  } else {
    const player = mpegts.createPlayer({ type: 'flv', isLive: true, url: channel.playUrls.flv }, { enableStashBuffer: false, liveBufferLatencyChasing: true });
    player.on(mpegts.Events.ERROR, (type: string, detail: string) => {
      errors.push(`${type} ${detail}`);
      feedback.error(`player error: ${type} ${detail}`);
    });
    player.attachMediaElement(video);
    player.load();
    video.addEventListener('playing', () => {
      playback.textContent = 'playing';
      playback.className = 'status ok';
    });
    video.addEventListener('waiting', () => (playback.textContent = 'buffering…'));
    void Promise.resolve(player.play()).catch((error: Error) => feedback.error('cannot start playback', error));
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
