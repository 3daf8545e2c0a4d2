import { Composer } from '../lib/composer';
import { ConferenceClient } from '../lib/conference-client';
import { mountConferenceView } from '../lib/conference-view';
import { mountPkPanel } from '../lib/pk-panel';
import { Signalling } from '../lib/signalling';
import { api, channelParams, describe, Feedback, h } from '../lib/ui';

interface ChannelView {
  state: string;
  source: string;
  viewers: number;
  conferenceId?: string;
  mixTaskId?: string;
}

interface InvitationEvent {
  invitationId: string;
  channelId: string;
  kind: 'invite' | 'apply';
  guestUserId: string;
  state: string;
  reason?: string;
}

interface MixView {
  state: string;
  sequence: number;
  layout: { mode: string };
  stats: { fps: number; bitrateKbps: number; speed: number; encoderRestarts: number; droppedFrames: number };
  participants: string[];
}

/**
 * The host page: `#/host?channel=<id>&token=<host token>`. The channel and
 * what it shows, viewers' applications, invite by user id, the seats with
 * kick, the layout of the mix, and the mix's state with live stats; PK with
 * another channel's host (invite, answer, end, battle).
 */
export async function renderHost(root: HTMLElement, params: URLSearchParams): Promise<void> {
  const { channelId, token } = channelParams(params);
  const channelState = h('span', { class: 'status', id: 'channel-state' }, 'loading…');
  const viewers = h('span', { id: 'viewers' }, '0');
  const uplink = h('span', { id: 'uplink' }, 'not pushing');
  const inviteInput = h('input', { id: 'invite-user', placeholder: 'user id' });
  const inviteButton = h('button', { id: 'invite' }, 'Invite on mic');
  const applications = h('ul', { id: 'applications' });
  const invitations = h('ul', { id: 'invitations' });
  const seats = h('ul', { id: 'seats' });
  const endButton = h('button', { id: 'end' }, 'End co-hosting');
  const layout = h('select', { id: 'layout' }, ...['float', 'grid', 'speaker', 'presentation'].map((m) => h('option', { value: m }, m)));
  const applyLayout = h('button', { id: 'apply-layout' }, 'Apply layout');
  const mixState = h('span', { class: 'status', id: 'mix-state' }, 'no mix');
  const mixStats = h('code', { id: 'mix-stats' }, '');
  const joinCamera = h('button', { id: 'join-camera', disabled: true }, 'Join with camera');
  const clientMix = h('input', { type: 'checkbox', id: 'client-mix' });
  const composing = h('span', { class: 'status', id: 'composing' }, 'server mixes');
  const tiles = h('div', { class: 'grid', id: 'tiles' });
  const people = h('ul', { id: 'people' });
  const log = h('ul', { class: 'feedback', id: 'feedback' });
  const pkSlot = h('div');
  root.append(
    h('section', { class: 'host' },
      h('h2', {}, `Host of ${channelId}`),
      h('p', {}, 'Channel: ', channelState, ' · viewers: ', viewers, ' · your uplink: ', uplink),
      h('p', {}, inviteInput, ' ', inviteButton),
      h('h3', {}, 'Applications'), applications,
      h('h3', {}, 'Invitations'), invitations,
      h('h3', {}, 'On mic'), seats, h('p', {}, endButton),
      h('h3', {}, 'Conference'),
      h('p', {}, 'Go on mic from this browser, or keep your encoder and push to the ingest URL. ', joinCamera),
      tiles, people,
      h('h3', {}, 'Mix'),
      h('p', {}, h('label', {}, clientMix, ' Mix on this device (client mode: your page composes and publishes the picture)'), ' ', composing),
      h('p', {}, 'State: ', mixState, ' · layout ', layout, ' ', applyLayout), h('p', {}, mixStats),
      h('h3', {}, 'PK with another channel'), pkSlot,
      h('h3', {}, 'What happened'), log),
  );
  const feedback = new Feedback(log);
  const signalling = new Signalling(token);
  pkSlot.replaceWith(mountPkPanel(signalling, channelId, feedback));
  let mixTaskId: string | undefined;
  let conferenceId: string | undefined;
  let sequence = 0;
  let client: ConferenceClient | undefined;
  let local: MediaStream | undefined;
  const hostPage = { inConference: false, composing: false };
  let composer: Composer | undefined;
  let withdraw: (() => void) | undefined;

  /** In client mode, while on mic, this page composes and publishes the channel's picture. */
  const reconcileComposer = async () => {
    const want = clientMix.checked && client !== undefined && hostPage.inConference;
    if (want && !composer && client) {
      const c = client;
      composer = new Composer(() => ({ host: local, guests: [...c.remotes.values()].map((r) => ({ userId: r.userId, stream: r.stream })) }));
      try {
        withdraw = await c.publishComposite(composer.stream);
        hostPage.composing = true;
        composing.textContent = 'this page composes';
        composing.className = 'status ok';
        feedback.ok('publishing the picture composed on this device');
      } catch (error) {
        composer.stop();
        composer = undefined;
        feedback.error('cannot publish the composed picture', error);
      }
    } else if (!want && composer) {
      withdraw?.();
      withdraw = undefined;
      composer.stop();
      composer = undefined;
      hostPage.composing = false;
      composing.textContent = 'server mixes';
      composing.className = 'status';
    }
  };
  (window as unknown as { hostPage: typeof hostPage }).hostPage = hostPage;

  const leaveConference = async () => {
    const c = client;
    client = undefined;
    hostPage.inConference = false;
    await reconcileComposer();
    await c?.leave().catch(() => undefined);
    local?.getTracks().forEach((t) => t.stop());
    local = undefined;
    tiles.replaceChildren();
    people.replaceChildren();
  };

  const refresh = async () => {
    try {
      const c = await api<ChannelView>(token, 'GET', `/channels/${encodeURIComponent(channelId)}`);
      channelState.textContent = `${c.state} (${c.source})`;
      channelState.className = `status ${c.state === 'idle' ? 'bad' : 'ok'}`;
      viewers.textContent = String(c.viewers);
      mixTaskId = c.mixTaskId;
      conferenceId = c.conferenceId;
      joinCamera.disabled = !conferenceId || client !== undefined;
      if (!mixTaskId) {
        mixState.textContent = 'no mix';
        mixStats.textContent = '';
        return;
      }
      const mix = await api<MixView>(token, 'GET', `/mix-tasks/${mixTaskId}`);
      sequence = Math.max(sequence, mix.sequence);
      mixState.textContent = mix.state;
      mixState.className = `status ${mix.state === 'active' ? 'ok' : ''}`;
      mixStats.textContent = `${mix.layout.mode} · ${mix.participants.length} in the mix · ${mix.stats.fps} fps · ${mix.stats.bitrateKbps} kbps · speed ${mix.stats.speed}x · encoder restarts ${mix.stats.encoderRestarts}`;
    } catch (error) {
      channelState.textContent = describe(error);
      channelState.className = 'status bad';
    }
  };
  const timer = setInterval(() => void refresh(), 2000);

  const seat = (userId: string, on: boolean) => {
    const existing = seats.querySelector<HTMLLIElement>(`[data-user="${CSS.escape(userId)}"]`);
    if (!on) return existing?.remove();
    if (existing) return;
    const kick = h('button', { class: 'kick' }, 'Kick');
    kick.addEventListener('click', () => void feedback.run(`kicked ${userId}`, () => signalling.request('cohost:kick', { channelId, userId })));
    seats.append(h('li', { 'data-user': userId }, `${userId} `, kick));
  };

  const rows = new Map<string, HTMLLIElement>();
  const showInvitation = (inv: InvitationEvent) => {
    const list = inv.kind === 'apply' ? applications : invitations;
    let row = rows.get(inv.invitationId);
    if (!row) {
      row = h('li', { 'data-invitation': inv.invitationId });
      rows.set(inv.invitationId, row);
      list.prepend(row);
    }
    row.replaceChildren(`${inv.guestUserId} · ${inv.state}${inv.reason ? ` (${inv.reason})` : ''}`);
    if (inv.state !== 'pending') return;
    if (inv.kind === 'apply') {
      const accept = h('button', { class: 'accept' }, 'Accept');
      const reject = h('button', { class: 'reject' }, 'Reject');
      accept.addEventListener('click', () => void feedback.run(`accepted ${inv.guestUserId}'s application`, () => signalling.request('cohost:accept', { invitationId: inv.invitationId })));
      reject.addEventListener('click', () => void feedback.run(`rejected ${inv.guestUserId}'s application`, () => signalling.request('cohost:reject', { invitationId: inv.invitationId })));
      row.append(' ', accept, ' ', reject);
    } else {
      const cancel = h('button', { class: 'cancel' }, 'Cancel');
      cancel.addEventListener('click', () => void feedback.run(`cancelled the invitation to ${inv.guestUserId}`, () => signalling.request('cohost:cancel', { invitationId: inv.invitationId })));
      row.append(' ', cancel);
    }
  };

  for (const event of ['cohost:applied', 'cohost:accepted', 'cohost:rejected', 'cohost:cancelled', 'cohost:expired'] as const) {
    signalling.on<InvitationEvent>(event, (inv) => {
      if (inv.channelId !== channelId) return;
      showInvitation(inv);
      if (event === 'cohost:accepted') seat(inv.guestUserId, true);
      feedback.info(`${inv.guestUserId}: ${event.slice(7)}`);
    });
  }
  signalling.on<{ channelId: string; userId: string }>('cohost:left', (p) => {
    seat(p.userId, false);
    feedback.info(`${p.userId} left`);
  });
  signalling.on<{ channelId: string; userId: string }>('cohost:kicked', (p) => seat(p.userId, false));
  signalling.on<{ channelId: string; conferenceId: string }>('cohost:started', (p) => {
    feedback.ok(`co-hosting started (conference ${p.conferenceId}); the mix goes on air at its first keyframe`);
    void refresh();
  });
  signalling.on<{ channelId: string; reason: string }>('cohost:ended', (p) => {
    seats.replaceChildren();
    void leaveConference();
    feedback.info(`co-hosting ended (${p.reason}); the channel returns to your own push`);
    void refresh();
  });
  signalling.on<{ channelId: string; state: string; source: string }>('channel:state', (s) => {
    if (s.channelId !== channelId) return;
    feedback.info(`channel is ${s.state}, showing ${s.source}`);
    void refresh();
  });
  // Extension (issue 17): the score of this host's own push as the gateway receives it.
  signalling.on<{ channelId: string; quality: { score: number; fps: number; kbps: number; longestGapMs: number } }>('channel:uplink', (u) => {
    if (u.channelId !== channelId) return;
    const q = u.quality;
    uplink.textContent = `network ${q.score} (${q.fps} fps, ${q.kbps} kbps, longest stall ${q.longestGapMs} ms)`;
  });
  signalling.on<{ taskId: string; state: string; reason?: string }>('mix:state', (m) => {
    feedback.info(`mix ${m.state}${m.reason ? ` (${m.reason})` : ''}`);
    void refresh();
  });

  const invite = () => {
    const userId = inviteInput.value.trim();
    if (!userId) return feedback.error('enter the user id to invite');
    void feedback.run(`invited ${userId}`, async () => {
      const { invitationId } = await signalling.request<{ invitationId: string; expiresAt: string }>('cohost:invite', { channelId, userId });
      showInvitation({ invitationId, channelId, kind: 'invite', guestUserId: userId, state: 'pending' });
    });
  };
  inviteButton.addEventListener('click', invite);
  clientMix.addEventListener('change', () => {
    const mixMode = clientMix.checked ? 'client' : 'server';
    void feedback.run(`mix mode set to ${mixMode}`, async () => {
      await signalling.request('cohost:mode', { channelId, mixMode });
      await reconcileComposer();
    });
  });
  joinCamera.addEventListener('click', () => {
    if (!conferenceId || client) return;
    const id = conferenceId;
    joinCamera.disabled = true;
    void feedback.run('joined the conference with camera and microphone', async () => {
      client = new ConferenceClient(signalling, { p2p: params.get('p2p') !== 'off', resilience: params.get('resilience') !== 'off', dtx: params.get('dtx') === 'on' });
      window.conferenceClient = client;
      mountConferenceView(client, tiles, people, () => local);
      try {
        local = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 360 } });
        await client.join(id, local);
        hostPage.inConference = true;
        await reconcileComposer();
      } catch (error) {
        await leaveConference();
        joinCamera.disabled = false;
        throw error;
      }
    });
  });
  inviteInput.addEventListener('keydown', (e) => (e as KeyboardEvent).key === 'Enter' && invite());
  endButton.addEventListener('click', () => void feedback.run('ended co-hosting', () => signalling.request('cohost:end', { channelId })));
  applyLayout.addEventListener('click', () => {
    if (!mixTaskId) return feedback.error('no mix is running');
    void feedback.run(`layout set to ${layout.value}`, () => api(token, 'PATCH', `/mix-tasks/${mixTaskId}`, { sequence: sequence + 1, layout: { mode: layout.value } }).then(() => (sequence += 1)));
  });
  window.addEventListener(
    'hashchange',
    () => {
      clearInterval(timer);
      void leaveConference().then(() => signalling.close());
    },
    { once: true },
  );
  try {
    await signalling.connected();
    feedback.ok('connected; your desk is open');
  } catch (error) {
    feedback.error('cannot connect to the gateway', error);
  }
  await refresh();
}
