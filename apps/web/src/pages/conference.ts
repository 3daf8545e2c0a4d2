import { ConferenceClient } from '../lib/conference-client';
import { mountConferenceView } from '../lib/conference-view';
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
         <button id="leave" disabled>Leave</button> <button id="share" disabled>Share screen</button></p>
      <div class="grid" id="tiles"></div>
      <h3>Present</h3>
      <ul id="people"></ul>
    </section>`;
  root.querySelector('.conference-id')!.textContent = conferenceId;
  const status = root.querySelector<HTMLSpanElement>('#status')!;
  const tiles = root.querySelector<HTMLDivElement>('#tiles')!;
  const people = root.querySelector<HTMLUListElement>('#people')!;
  const leave = root.querySelector<HTMLButtonElement>('#leave')!;
  const share = root.querySelector<HTMLButtonElement>('#share')!;

  // `p2p=off`: straight to the SFU (no direct path first). `resilience=off`: one layer, no FEC, no DTX (for comparison).
  // `name=`: the display name the mix draws on this participant's tile.
  const client = new ConferenceClient(new Signalling(token), { displayName: params.get('name') ?? undefined, p2p: params.get('p2p') !== 'off', resilience: params.get('resilience') !== 'off', dtx: params.get('dtx') === 'on' });
  window.conferenceClient = client;
  let local: MediaStream | undefined;

  const render = mountConferenceView(client, tiles, people, () => local);
  client.onChange(() => {
    if (!client.removed || status.textContent === 'removed by the host') return;
    status.textContent = 'removed by the host';
    status.classList.replace('ok', 'bad');
    local?.getTracks().forEach((t) => t.stop());
  });

  try {
    local = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 360 } });
    await client.join(conferenceId, local);
    status.textContent = 'joined';
    status.classList.add('ok');
    leave.disabled = false;
    share.disabled = !navigator.mediaDevices.getDisplayMedia;
  } catch (error) {
    status.textContent = `error: ${(error as Error & { code?: string }).code ?? ''} ${(error as Error).message}`;
    status.classList.add('bad');
  }
  // A second video of kind screen; the mix's presentation layout puts it large (docs/signalling.md).
  const shareLabel = () => (share.textContent = client.sharing ? 'Stop sharing' : 'Share screen');
  share.onclick = () => {
    const action = client.sharing ? client.stopScreen() : client.shareScreen();
    void action.then(shareLabel, (error: Error) => (status.textContent = `screen share: ${error.message}`));
  };
  // The share may end without a click: the host stopped it, or the browser's own "stop sharing".
  client.onChange(shareLabel);
  leave.onclick = () => {
    void client.leave().then(() => {
      local?.getTracks().forEach((t) => t.stop());
      status.textContent = 'left';
    });
  };
  render();
}
