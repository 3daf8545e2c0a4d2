import { ConferenceClient } from '../lib/conference-client';
import { mountConferenceView } from '../lib/conference-view';
import { Signalling } from '../lib/signalling';
import { channelParams, Feedback, h } from '../lib/ui';

interface InvitationEvent {
  invitationId: string;
  channelId: string;
  from: string;
  kind: 'invite' | 'apply';
  state: string;
  expiresAt: string;
  reason?: string;
}

declare global {
  interface Window {
    guestPage?: { joined: boolean; conferenceId?: string };
  }
}

/**
 * The guest page: `#/guest?channel=<id>&token=<token>[&conference=<id>]`.
 * Incoming invitations with accept or reject; once on mic, the conference with
 * camera and microphone, and leave.
 */
export async function renderGuest(root: HTMLElement, params: URLSearchParams): Promise<void> {
  const { channelId, token } = channelParams(params);
  const status = h('span', { class: 'status', id: 'guest-status' }, 'waiting for an invitation');
  const invitations = h('ul', { id: 'invitations' });
  const leave = h('button', { id: 'leave', disabled: true }, 'Leave');
  const tiles = h('div', { class: 'grid', id: 'tiles' });
  const people = h('ul', { id: 'people' });
  const log = h('ul', { class: 'feedback', id: 'feedback' });
  root.append(
    h('section', { class: 'guest' },
      h('h2', {}, `Guest on ${channelId}`),
      h('p', {}, status, ' ', leave),
      h('h3', {}, 'Invitations'), invitations,
      h('h3', {}, 'Conference'), tiles, people,
      h('h3', {}, 'What happened'), log),
  );
  const feedback = new Feedback(log);
  const signalling = new Signalling(token);
  const page = { connected: false as boolean, joined: false as boolean, conferenceId: undefined as string | undefined };
  window.guestPage = page;
  let client: ConferenceClient | undefined;
  let local: MediaStream | undefined;

  const setStatus = (text: string, kind: 'ok' | 'bad' | '' = '') => {
    status.textContent = text;
    status.className = `status ${kind}`;
  };

  const join = async (conferenceId: string) => {
    if (client) return;
    setStatus('joining…');
    client = new ConferenceClient(signalling, { p2p: params.get('p2p') !== 'off', resilience: params.get('resilience') !== 'off', dtx: params.get('dtx') === 'on' });
    window.conferenceClient = client;
    mountConferenceView(client, tiles, people, () => local);
    try {
      local = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 360 } });
      await client.join(conferenceId, local);
      page.joined = true;
      page.conferenceId = conferenceId;
      setStatus('on mic', 'ok');
      leave.disabled = false;
      feedback.ok(`joined conference ${conferenceId} with camera and microphone`);
    } catch (error) {
      setStatus('could not join', 'bad');
      feedback.error('joining the conference failed', error);
    }
  };

  const offMic = async (why: string) => {
    const c = client;
    client = undefined;
    page.joined = false;
    leave.disabled = true;
    await c?.leave().catch(() => undefined);
    local?.getTracks().forEach((t) => t.stop());
    local = undefined;
    tiles.replaceChildren();
    setStatus(why);
  };

  const rows = new Map<string, HTMLLIElement>();
  const showInvitation = (inv: InvitationEvent) => {
    let row = rows.get(inv.invitationId);
    if (!row) {
      row = h('li', { 'data-invitation': inv.invitationId });
      rows.set(inv.invitationId, row);
      invitations.prepend(row);
    }
    const text = `${inv.kind === 'invite' ? `${inv.from} invites you` : 'your application'} · ${inv.state}${inv.reason ? ` (${inv.reason})` : ''}`;
    row.replaceChildren(text);
    if (inv.kind === 'invite' && inv.state === 'pending') {
      const accept = h('button', { class: 'accept' }, 'Accept');
      const reject = h('button', { class: 'reject' }, 'Reject');
      accept.addEventListener('click', () => {
        void feedback.run('accepted the invitation', async () => {
          const { conferenceId } = await signalling.request<{ conferenceId: string }>('cohost:accept', { invitationId: inv.invitationId });
          await join(conferenceId);
        });
      });
      reject.addEventListener('click', () => void feedback.run('rejected the invitation', () => signalling.request('cohost:reject', { invitationId: inv.invitationId })));
      row.append(' ', accept, ' ', reject);
    }
  };

  for (const event of ['cohost:invited', 'cohost:accepted', 'cohost:rejected', 'cohost:cancelled', 'cohost:expired'] as const) {
    signalling.on<InvitationEvent>(event, (inv) => {
      if (inv.channelId !== channelId) return;
      showInvitation(inv);
      if (event === 'cohost:invited') feedback.info(`${inv.from} invites you on mic`);
      else if (event !== 'cohost:accepted') feedback.info(`invitation ${event.slice(7)}`);
    });
  }
  signalling.on<{ channelId: string; conferenceId: string }>('cohost:started', (p) => {
    if (p.channelId === channelId && !client) void join(p.conferenceId);
  });
  signalling.on<{ channelId: string; userId: string }>('cohost:kicked', (p) => {
    if (p.channelId === channelId && p.userId === client?.userId) {
      feedback.error('the host took you off mic');
      void offMic('kicked by the host');
    }
  });
  signalling.on<{ channelId: string; reason: string }>('cohost:ended', (p) => {
    if (p.channelId !== channelId) return;
    feedback.info(`co-hosting ended (${p.reason})`);
    void offMic('co-hosting ended');
  });
  leave.addEventListener('click', () => {
    void feedback.run('left the co-hosting session', async () => {
      await signalling.request('cohost:leave', { channelId });
      await offMic('left');
    });
  });
  window.addEventListener('hashchange', () => void offMic('left the page').then(() => signalling.close()), { once: true });

  try {
    await signalling.connected();
    page.connected = true;
  } catch (error) {
    setStatus('not connected', 'bad');
    feedback.error('cannot connect to the gateway', error);
    return;
  }
  const conferenceId = params.get('conference');
  if (conferenceId) await join(conferenceId);
}
