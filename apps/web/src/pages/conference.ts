import { ConferenceClient } from '../lib/conference-client';
import { Signalling } from '../lib/signalling';

declare global {
  interface Window {
    conferenceClient?: ConferenceClient;
  }
}

/**
 * The conference page: `#/conference?id=<conferenceId>&token=<token>`. Joins
 * with camera and microphone, shows and plays everyone else, lists who is present.
 */
export async function renderConference(root: HTMLElement, params: URLSearchParams): Promise<void> {
  const conferenceId = params.get('id') ?? '';
  const token = params.get('token') ?? '';
  root.innerHTML = `
    <section class="conference">
      <p>Conference <b class="conference-id"></b> · <span class="status" id="status">joining…</span>
         <button id="leave" disabled>Leave</button></p>
      <div class="grid" id="tiles"></div>
      <h3>Present</h3>
      <ul id="people"></ul>
    </section>`;
  root.querySelector('.conference-id')!.textContent = conferenceId;
  const status = root.querySelector<HTMLSpanElement>('#status')!;
  const tiles = root.querySelector<HTMLDivElement>('#tiles')!;
  const people = root.querySelector<HTMLUListElement>('#people')!;
  const leave = root.querySelector<HTMLButtonElement>('#leave')!;

  const client = new ConferenceClient(new Signalling(token));
  window.conferenceClient = client;
  let local: MediaStream | undefined;

  const render = () => {
    const wanted = new Map<string, MediaStream>();
    if (local) wanted.set(`${client.userId ?? 'me'} (you)`, local);
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
      ...[client.userId ? `${client.userId} (you)` : undefined, ...[...client.remotes.values()].map((r) => `${r.userId} · ${r.via}`)]
        .filter((x): x is string => Boolean(x))
        .map((text) => Object.assign(document.createElement('li'), { textContent: text })),
    );
  };
  client.onChange(render);

  try {
    local = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 360 } });
    await client.join(conferenceId, local);
    status.textContent = 'joined';
    status.classList.add('ok');
    leave.disabled = false;
  } catch (error) {
    status.textContent = `error: ${(error as Error & { code?: string }).code ?? ''} ${(error as Error).message}`;
    status.classList.add('bad');
  }
  leave.onclick = () => {
    void client.leave().then(() => {
      local?.getTracks().forEach((t) => t.stop());
      status.textContent = 'left';
    });
  };
  render();
}
