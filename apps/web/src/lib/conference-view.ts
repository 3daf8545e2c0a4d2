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
    }
    people.replaceChildren(
      // Your own line names the ladder rung your media takes (p2p, sfu-udp, …, turn-tls) once known.
      ...[client.userId ? `${client.userId} (you)${client.path ? ` · ${client.path}` : ''}` : undefined, ...[...client.remotes.values()].map((r) => `${r.userId} · ${r.via}${qualityOf(client, r.userId)}`)]
        .filter((x): x is string => Boolean(x))
        .map((text) => Object.assign(document.createElement('li'), { textContent: text })),
    );
  };
  client.onChange(render);
  render();
  return render;
}

/** `· network 87 (loss 2.5 %)` on a participant's line, when the gateway told this client (the conference's host) their score. */
function qualityOf(client: ConferenceClient, userId: string): string {
  const q = client.qualities.get(userId);
  return q ? ` · network ${q.score}${q.lossPct >= 1 ? ` (loss ${q.lossPct} %)` : ''}` : '';
}
