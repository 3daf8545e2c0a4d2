import { Signalling } from './signalling';
import { Feedback, h } from './ui';

interface PkEvent {
  pkId: string;
  fromChannelId: string;
  fromUserId: string;
  toChannelId?: string;
  state?: string;
  reason?: string;
  expiresAt?: string;
}

/**
 * The host page's PK panel: invite another channel's host, answer an
 * incoming invitation, end the PK, start a battle and follow its scores.
 * The server does the picture; this only sends `pk:*` requests and shows the
 * `pk:*` events. `window.pkPanel` exposes its state to browser tests.
 */
export function mountPkPanel(signalling: Signalling, channelId: string, feedback: Feedback): HTMLElement {
  const target = h('input', { id: 'pk-target', placeholder: 'channel id' });
  const inviteButton = h('button', { id: 'pk-invite' }, 'Invite to PK');
  const incoming = h('ul', { id: 'pk-incoming' });
  const state = h('span', { class: 'status', id: 'pk-state' }, 'no PK');
  const endButton = h('button', { id: 'pk-end', disabled: true }, 'End PK');
  const seconds = h('input', { id: 'pk-battle-seconds', type: 'number', value: '60', min: '1', max: '3600' });
  const battleButton = h('button', { id: 'pk-battle', disabled: true }, 'Start battle');
  const scores = h('code', { id: 'pk-scores' }, '');
  const panel = { pkId: undefined as string | undefined, active: false, outgoing: undefined as string | undefined };
  (window as unknown as { pkPanel: typeof panel }).pkPanel = panel;

  const show = (text: string, ok = true) => {
    state.textContent = text;
    state.className = `status ${ok ? 'ok' : ''}`;
    endButton.disabled = !panel.active;
    battleButton.disabled = !panel.active;
    inviteButton.textContent = panel.outgoing ? 'Cancel PK invitation' : 'Invite to PK';
  };
  const over = (text: string) => {
    panel.pkId = undefined;
    panel.active = false;
    panel.outgoing = undefined;
    scores.textContent = '';
    show(text, false);
  };

  inviteButton.addEventListener('click', () => {
    if (panel.outgoing) {
      const pkId = panel.outgoing;
      void feedback.run('cancelled the PK invitation', () => signalling.request('pk:cancel', { pkId }));
      return;
    }
    const targetChannelId = target.value.trim();
    if (!targetChannelId) return feedback.error("enter the other host's channel id");
    void feedback.run(`invited the host of ${targetChannelId} to a PK`, async () => {
      const { pkId } = await signalling.request<{ pkId: string; expiresAt: string }>('pk:invite', { channelId, targetChannelId });
      panel.pkId = pkId;
      panel.outgoing = pkId;
      show(`inviting ${targetChannelId}…`);
    });
  });
  endButton.addEventListener('click', () => panel.pkId && void feedback.run('ended the PK', () => signalling.request('pk:end', { pkId: panel.pkId })));
  battleButton.addEventListener('click', () => {
    const durationSeconds = Number(seconds.value);
    if (panel.pkId) void feedback.run(`started a ${durationSeconds} s battle`, () => signalling.request('pk:battle', { pkId: panel.pkId, durationSeconds }));
  });

  signalling.on<PkEvent>('pk:invited', (pk) => {
    const accept = h('button', { class: 'pk-accept' }, 'Accept');
    const reject = h('button', { class: 'pk-reject' }, 'Reject');
    const row = h('li', { 'data-pk': pk.pkId }, `${pk.fromUserId} (${pk.fromChannelId}) invites you to a PK `, accept, ' ', reject);
    accept.addEventListener('click', () =>
      void feedback.run(`accepted the PK with ${pk.fromChannelId}`, async () => {
        row.remove();
        panel.pkId = pk.pkId;
        await signalling.request('pk:accept', { pkId: pk.pkId });
      }),
    );
    reject.addEventListener('click', () => void feedback.run(`rejected the PK with ${pk.fromChannelId}`, () => signalling.request('pk:reject', { pkId: pk.pkId }).then(() => row.remove())));
    incoming.prepend(row);
    feedback.info(`PK invitation from ${pk.fromChannelId}`);
  });
  for (const event of ['pk:rejected', 'pk:cancelled', 'pk:expired'] as const) {
    signalling.on<PkEvent>(event, (pk) => {
      incoming.querySelector(`[data-pk="${CSS.escape(pk.pkId)}"]`)?.remove();
      if (panel.pkId === pk.pkId) over(`PK ${event.slice(3)}`);
      feedback.info(`PK ${event.slice(3)}${pk.reason ? ` (${pk.reason})` : ''}`);
    });
  }
  signalling.on<PkEvent>('pk:accepted', (pk) => {
    if (panel.pkId === pk.pkId) show('accepted; starting…');
  });
  signalling.on<{ pkId: string; channelIds: string[]; conferenceId: string }>('pk:started', (p) => {
    panel.pkId = p.pkId;
    panel.active = true;
    panel.outgoing = undefined;
    show(`in a PK with ${p.channelIds.filter((c) => c !== channelId).join(', ')}`);
    feedback.ok('PK started: your channel shows you on the left, the other host on the right');
  });
  signalling.on<{ pkId: string; reason: string }>('pk:ended', (p) => {
    if (panel.pkId === p.pkId) over(`PK ended (${p.reason})`);
    feedback.info(`PK ended (${p.reason}); the channel returns to your own push`);
  });
  const showScores = (s: Record<string, number>) => (scores.textContent = Object.entries(s).map(([c, n]) => `${c}: ${n}`).join(' · '));
  signalling.on<{ pkId: string; endsAt: string; scores: Record<string, number> }>('pk:battle-started', (b) => {
    showScores(b.scores);
    feedback.info(`battle until ${new Date(b.endsAt).toLocaleTimeString()}`);
  });
  signalling.on<{ pkId: string; scores: Record<string, number> }>('pk:score', (b) => showScores(b.scores));
  signalling.on<{ pkId: string; scores: Record<string, number>; winnerChannelId: string | null }>('pk:battle-ended', (b) => {
    showScores(b.scores);
    feedback.ok(b.winnerChannelId === null ? 'battle over: a tie' : `battle over: ${b.winnerChannelId === channelId ? 'you win' : `${b.winnerChannelId} wins`}`);
  });

  return h('div', { id: 'pk' },
    h('p', {}, target, ' ', inviteButton),
    h('h4', {}, 'Incoming'), incoming,
    h('p', {}, 'PK: ', state, ' ', endButton),
    h('p', {}, 'Battle: ', seconds, ' s ', battleButton, ' ', scores),
  );
}
