import { ConferenceClient } from './conference-client';

/**
 * Renders a joined conference into `tiles` (one video per participant, the
 * local one muted) and `people` (who is present), following the client's changes.
 */
export function mountConferenceView(client: ConferenceClient, tiles: HTMLElement, people: HTMLElement, local: () => MediaStream | undefined): () => void {
  const render = () => {
    const wanted = new Map<string, MediaStream>();
    const mine = local();
    if (mine) wanted.set(`${client.userId ?? 'me'} (you)`, mine);
    for (const remote of client.remotes.values()) wanted.set(remote.userId, remote.stream);
    for (const tile of [...tiles.children] as HTMLElement[]) {
      if (!wanted.has(tile.dataset.user!)) tile.remove();
    }
    for (const [user, stream] of wanted) {
      let tile = tiles.querySelector<HTMLElement>(`[data-user="${CSS.escape(user)}"]`);
      if (!tile) {
        tile = document.createElement('figure');
        tile.className = 'tile';
        tile.dataset.user = user;
        const video = document.createElement('video');
        video.autoplay = true;
        video.playsInline = true;
        video.muted = user.endsWith('(you)');
        const caption = document.createElement('figcaption');
        caption.textContent = user;
        tile.append(video, caption);
        tiles.append(tile);
      }
      const video = tile.querySelector('video')!;
      if (video.srcObject !== stream) video.srcObject = stream;
      // The display name when the gateway knows one (set at join or by the host).
      const name = client.displayNames.get(user.replace(/ \(you\)$/, ''));
      tile.querySelector('figcaption')!.textContent = name ? `${name} (${user})` : user;
    }
    people.replaceChildren(
      // Your own line names the ladder rung your media takes (p2p, sfu-udp, …, turn-tls) once known.
      ...(client.userId ? [personLine(client, client.userId, `${client.userId} (you)${client.path ? ` · ${client.path}` : ''}`)] : []),
      ...[...client.remotes.values()].map((r) => personLine(client, r.userId, `${r.userId} · ${r.via}${qualityOf(client, r.userId)}`)),
    );
  };
  client.onChange(render);
  render();
  return render;
}

/**
 * A person's line: who, their mutes, and mute/unmute buttons for their
 * microphone and camera (the gateway lets the host use them on anyone, and
 * anyone on themself; a refusal is shown on the line). The host's buttons lock.
 */
function personLine(client: ConferenceClient, userId: string, text: string): HTMLLIElement {
  const li = document.createElement('li');
  li.dataset.user = userId;
  const mutes = client.mutes.get(userId) ?? {};
  const muted = (['audio', 'video', 'screen'] as const).filter((k) => mutes[k]?.muted).map((k) => `${k} muted${mutes[k]!.locked ? ' (locked)' : ''}`);
  li.append(Object.assign(document.createElement('span'), { className: 'who', textContent: muted.length ? `${text} · ${muted.join(', ')}` : text }));
  const error = Object.assign(document.createElement('span'), { className: 'error' });
  for (const kind of ['audio', 'video'] as const) {
    const isMuted = !!mutes[kind]?.muted;
    const button = Object.assign(document.createElement('button'), { textContent: `${isMuted ? 'unmute' : 'mute'} ${kind === 'audio' ? 'mic' : 'camera'}` });
    button.dataset.action = `${isMuted ? 'unmute' : 'mute'}-${kind}`;
    const lock = userId !== client.userId;
    button.onclick = () => {
      error.textContent = '';
      (isMuted ? client.unmute(userId, kind) : client.mute(userId, kind, lock)).catch((e: Error & { code?: string }) => (error.textContent = ` ${e.code ?? e.message}`));
    };
    li.append(' ', button);
  }
  li.append(error);
  return li;
}

/** `· network 87 (loss 2.5 %)` on a participant's line, when the gateway told this client (the conference's host) their score. */
function qualityOf(client: ConferenceClient, userId: string): string {
  const q = client.qualities.get(userId);
  return q ? ` · network ${q.score}${q.lossPct >= 1 ? ` (loss ${q.lossPct} %)` : ''}` : '';
}
